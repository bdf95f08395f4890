"""Sending, editing and deleting Telegram messages, and Telegram's errors as the core's errors."""

from __future__ import annotations

import datetime as dtm
import logging
import warnings
from collections.abc import Sequence
from typing import Any

from telegram import LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram_app.render import OutgoingPart
from bot.core.seam import DeliveryError, RecipientUnreachable

log = logging.getLogger(__name__)

# The Application's bot: an ExtBot, whose methods take `rate_limit_args`.
Bot = ExtBot[Any]

# Replies carry panel URLs and order links; a preview card of those is noise.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_UNREACHABLE_CHAT = ("chat not found", "user not found", "peer_id_invalid")


def _says(error: TelegramError, *needles: str) -> bool:
    text = error.message.lower()
    return any(needle in text for needle in needles)


def is_not_modified(error: TelegramError) -> bool:
    """Telegram's answer to an edit that changes nothing (a Refresh with the same status)."""
    return isinstance(error, BadRequest) and _says(error, "message is not modified")


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds."""
    # PTB 22 returns an int or a timedelta depending on PTB_TIMEDELTA and warns about the int.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def delivery_error(error: TelegramError) -> DeliveryError:
    """The core's error for a failed push: unreachable users are told apart from hiccups."""
    if isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and _says(error, *_UNREACHABLE_CHAT)
    ):
        # Blocked the bot, deleted the account, or never opened a chat with it.
        return RecipientUnreachable(f"Telegram will not deliver to this user: {error.message}")
    if isinstance(error, RetryAfter):
        seconds = retry_seconds(error)
        return DeliveryError(f"Telegram flood limit: retry in {seconds:g} s", retry_after=seconds)
    return DeliveryError(f"Telegram did not deliver the message: {error.message}")


async def _send(
    bot: Bot, chat_id: int, part: OutgoingPart, reply_to: int | None, rate_limit_args: int | None
) -> Message:
    return await bot.send_message(
        chat_id,
        part.html,
        parse_mode=ParseMode.HTML,
        reply_markup=part.markup,
        link_preview_options=NO_PREVIEW,
        reply_parameters=(
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        ),
        rate_limit_args=rate_limit_args,
    )


async def send_parts(
    bot: Bot,
    chat_id: int,
    parts: Sequence[OutgoingPart],
    *,
    reply_to: int | None = None,
    rate_limit_args: int | None = None,
) -> list[Message]:
    """Send the parts in order; the first one quotes `reply_to` when given.

    `rate_limit_args` goes to the rate limiter (flood.NO_RETRY: a 429 is raised, not waited out).
    """
    sent: list[Message] = []
    for index, part in enumerate(parts):
        quote = reply_to if index == 0 else None
        try:
            sent.append(await _send(bot, chat_id, part, quote, rate_limit_args))
        except BadRequest as error:
            # The quoted message may be gone (deleted by its author); the answer still matters.
            if quote is None or not _says(error, "replied not found", "reply message not found"):
                raise
            sent.append(await _send(bot, chat_id, part, None, rate_limit_args))
    return sent


async def edit_part(bot: Bot, chat_id: int, message_id: int, part: OutgoingPart) -> bool:
    """Replace a message's text and keyboard; False when it cannot be edited (send a new one)."""
    try:
        await bot.edit_message_text(
            part.html,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=part.markup,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as error:
        if is_not_modified(error):
            # A Refresh that found nothing new: the message already shows the answer.
            return True
        log.info(
            "editing message %s in chat %s failed (%s); sending anew",
            message_id,
            chat_id,
            error.message,
        )
        return False
    return True


async def delete_message(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Delete a message; False when Telegram refuses (no rights in a group, too old)."""
    try:
        return bool(await bot.delete_message(chat_id, message_id))
    except TelegramError as error:
        log.warning(
            "could not delete message %s in chat %s: %s", message_id, chat_id, error.message
        )
        return False
