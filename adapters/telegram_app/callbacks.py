"""Answering callback queries in time, however long the core takes to reply to the press."""

from __future__ import annotations

import asyncio
import logging

from telegram import CallbackQuery
from telegram.error import TelegramError

log = logging.getLogger(__name__)

# Telegram drops a callback query that is not answered within about 15 s ("query is too old")
# and the user watches a spinner until then; a slow panel (30 s timeout, retries) outlasts that.
# https://core.telegram.org/bots/api#answercallbackquery
CALLBACK_ANSWER_SECONDS = 2.0
# The toast shown when the reply is not ready in time; the reply itself follows in the chat.
WORKING = "⏳ Working on it…"


async def answer_query(query: CallbackQuery, text: str, *, alert: bool) -> bool:
    """Answer a callback query; a late or repeated answer is logged, not raised."""
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as error:
        log.info("Telegram: answering a button press failed: %s", error.message)
        return False
    return True


class CallbackAnswer:
    """Answers one callback query exactly once: with the core's notice when the reply comes
    within `budget` seconds, else with a short placeholder as soon as the budget is spent.

    Built when the press arrives (before it waits for the user's earlier updates), so the
    budget covers that wait too.
    """

    def __init__(self, query: CallbackQuery, budget: float) -> None:
        self.query = query
        self._claimed = False
        self._timer = asyncio.create_task(self._placeholder(budget), name="callback-answer")

    async def _placeholder(self, budget: float) -> None:
        await asyncio.sleep(budget)
        if not self._claimed:
            self._claimed = True
            await answer_query(self.query, WORKING, alert=False)

    async def reply(self, text: str, *, alert: bool) -> bool:
        """Answer with `text` (a notice, or a popup with `alert`); False if it came too late."""
        if self._claimed:
            return False
        # Not claimed means the timer is still asleep: cancelling it cannot cut off an answer.
        self._claimed = True
        self._timer.cancel()
        await answer_query(self.query, text, alert=alert)
        return True

    async def close(self) -> None:
        """Answer with empty text if nothing answered yet; wait for a placeholder being sent."""
        if not self._claimed:
            await self.reply("", alert=False)
        await asyncio.gather(self._timer, return_exceptions=True)
