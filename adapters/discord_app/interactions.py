"""Every Discord interaction in, one core invocation out, and the Reply rendered back.

Discord drops an interaction that is not answered within 3 seconds, so each one is acknowledged
(deferred) before the core or the panel is called; the answer then follows as a follow-up message
or an edit of the message whose button was pressed. Modals are the exception: Discord only accepts
them as the first response, so a button or /setkey that opens one does so at once.
https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final, cast

import discord
from discord import app_commands

from adapters.discord_app.commands import (
    MODAL_COMMANDS,
    PUBLIC_COMMANDS,
    arguments_text,
    focused_option,
    option_values,
)
from adapters.discord_app.forms import (
    KEY_MODAL_ID,
    answer_field,
    answer_modal,
    decode_prompt,
    prompt_button,
    submitted_answer,
)
from adapters.discord_app.render import (
    NO_MENTIONS,
    OutMessage,
    escape,
    plan_messages,
    plan_reply,
)
from bot.core.app import BotCore
from bot.core.handlers.keys import KEY_PROMPT
from bot.core.seam import Invocation, InvocationKind, Platform, Reply

log = logging.getLogger(__name__)

PLATFORM: Final[Platform] = "discord"
# Autocomplete must be answered within Discord's 3 s; the lookup is local, this is a safety net.
AUTOCOMPLETE_BUDGET_SECONDS = 2.0
MAX_CHOICES = 25
SORRY = "Sorry, something went wrong on my side. Please try again."
KEY_TITLE = "Your panel API key"
EXPIRED_FORM = "This form has expired. Run the command again."


def _data(interaction: discord.Interaction) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", interaction.data or {})


class InteractionRouter:
    """Routes interactions to the core by type and custom_id; renders the core's replies."""

    def __init__(self, core: BotCore) -> None:
        self.core = core
        self.specs = {spec.name: spec for spec in core.commands}
        self.bot_user_id: int | None = None
        self._warming: dict[str, asyncio.Task[None]] = {}

    async def dispatch(self, interaction: discord.Interaction) -> None:
        """Handle one interaction; never raises (failures are logged)."""
        kind = interaction.type
        try:
            if kind is discord.InteractionType.application_command:
                await self._command(interaction)
            elif kind is discord.InteractionType.autocomplete:
                await self._autocomplete(interaction)
            elif kind is discord.InteractionType.component:
                await self._press(interaction)
            elif kind is discord.InteractionType.modal_submit:
                await self._submit(interaction)
        except Exception:
            log.exception("handling a Discord %s interaction failed", kind.name)
            await self._apologise(interaction)

    async def close(self) -> None:
        """Cancel catalogue warm-ups still running."""
        tasks = list(self._warming.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----- the four kinds of interaction ---------------------------------------------------------
    async def _command(self, interaction: discord.Interaction) -> None:
        data = _data(interaction)
        name = str(data.get("name", ""))
        log.debug("user %s ran /%s", interaction.user.id, name)
        if name in MODAL_COMMANDS and len(self.core.res.settings.panel_urls) == 1:
            await self._open_modal(interaction, answer_modal(KEY_PROMPT, KEY_MODAL_ID, KEY_TITLE))
            return
        ephemeral = name not in PUBLIC_COMMANDS
        if not await self._acknowledge(interaction, thinking=True, ephemeral=ephemeral):
            return
        text = (
            ""
            if name in MODAL_COMMANDS
            else arguments_text(self.specs.get(name), option_values(data))
        )
        reply = await self.core.handle(self._invocation(interaction, "command", name, text))
        await self._answer_deferred(interaction, reply, ephemeral=ephemeral)

    async def _autocomplete(self, interaction: discord.Interaction) -> None:
        data = _data(interaction)
        spec = self.specs.get(str(data.get("name", "")))
        name, typed = focused_option(data)
        kinds = {option.name: option.kind for option in spec.options} if spec else {}
        choices: list[app_commands.Choice[str]] = []
        if kinds.get(name) == "service":
            choices = await self._service_choices(str(interaction.user.id), typed)
        await interaction.response.autocomplete(choices)

    async def _service_choices(self, user_id: str, typed: str) -> list[app_commands.Choice[str]]:
        try:
            found = await asyncio.wait_for(
                self.core.complete_service(PLATFORM, user_id, typed), AUTOCOMPLETE_BUDGET_SECONDS
            )
        except TimeoutError:
            found = []
        if not found:
            # The cache may be cold: fill it in the background; the next keystroke finds it.
            self._warm(user_id)
        choices = [
            app_commands.Choice(name=choice.label[:100], value=choice.value[:100])
            for choice in found[:MAX_CHOICES]
            if choice.label and choice.value
        ]
        if not choices and typed.strip():
            # Nothing to pick (yet): offer the typed words, which /order searches for.
            choices = [app_commands.Choice(name=f"Search: {typed}"[:100], value=typed[:100])]
        return choices

    async def _press(self, interaction: discord.Interaction) -> None:
        custom_id = str(_data(interaction).get("custom_id", ""))
        log.debug("user %s pressed %s", interaction.user.id, custom_id)
        prompt = decode_prompt(custom_id)
        if prompt is not None:
            await self._open_modal(interaction, answer_modal(prompt))
            return
        if not await self._acknowledge(interaction, thinking=False, ephemeral=False):
            return
        reply = await self.core.handle(self._invocation(interaction, "action", custom_id))
        await self._answer_press(interaction, reply)

    async def _submit(self, interaction: discord.Interaction) -> None:
        data = _data(interaction)
        custom_id = str(data.get("custom_id", ""))
        log.debug("user %s submitted the form %s", interaction.user.id, custom_id)
        value = submitted_answer(data) or ""
        if custom_id == KEY_MODAL_ID:
            inv = self._invocation(interaction, "command", "setkey", value)
        elif answer_field(custom_id) is not None:
            inv = self._invocation(interaction, "text", "", value)
        else:
            await interaction.response.send_message(EXPIRED_FORM, ephemeral=True)
            return
        if not await self._acknowledge(interaction, thinking=True, ephemeral=True):
            return
        reply = await self.core.handle(inv)
        await self._answer_deferred(interaction, reply, ephemeral=True)

    # ----- answering -----------------------------------------------------------------------------
    async def _acknowledge(
        self, interaction: discord.Interaction, *, thinking: bool, ephemeral: bool
    ) -> bool:
        """Defer within Discord's 3 s; if that fails, the core is not called at all."""
        try:
            await interaction.response.defer(thinking=thinking, ephemeral=ephemeral)
        except discord.HTTPException as error:
            # An expired interaction (10062) cannot be answered; acting on it unseen (placing
            # an order, say) would leave the user not knowing.
            log.warning(
                "could not acknowledge a Discord interaction (HTTP %s, code %s); ignoring it",
                error.status,
                error.code,
            )
            return False
        return True

    async def _open_modal(self, interaction: discord.Interaction, modal: discord.ui.Modal) -> None:
        try:
            await interaction.response.send_modal(modal)
        except discord.HTTPException as error:
            log.warning("Discord refused a modal (HTTP %s, code %s)", error.status, error.code)

    def _messages(self, reply: Reply) -> list[OutMessage]:
        button = prompt_button(reply.prompt) if reply.prompt is not None else None
        link = None
        if reply.open_private and self.bot_user_id is not None:
            link = f"https://discord.com/users/{self.bot_user_id}"
        return plan_reply(reply, button, link)

    async def _answer_deferred(
        self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool
    ) -> None:
        """Replace the "thinking…" message with the reply (and follow with the rest)."""
        messages = self._messages(reply) or plan_messages(reply.notice, ())
        if not messages or (reply.private and not ephemeral):
            # Nothing to say, or personal content after a public "thinking…": remove that.
            await self._delete_original(interaction)
            ephemeral = True
        for message in messages:
            await self._follow_up(interaction, message, ephemeral=ephemeral)

    async def _answer_press(self, interaction: discord.Interaction, reply: Reply) -> None:
        """Edit the pressed message or send new ones; refusals go to the presser alone."""
        if reply.alert:
            for message in plan_messages(reply.notice or reply.text, ()):
                await self._follow_up(interaction, message, ephemeral=True)
            return
        messages = self._messages(reply)
        if not messages:
            for message in plan_messages(reply.notice, ()):
                await self._follow_up(interaction, message, ephemeral=True)
            return
        if reply.edit and await self._edit_original(interaction, messages[0]):
            messages = messages[1:]
        for message in messages:
            await self._follow_up(interaction, message, ephemeral=reply.private)

    async def _follow_up(
        self, interaction: discord.Interaction, message: OutMessage, *, ephemeral: bool
    ) -> None:
        options: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
        if message.content:
            options["content"] = message.content
        view = message.view()
        if view is not None:
            options["view"] = view
        try:
            await interaction.followup.send(wait=True, **options)
        except discord.HTTPException as error:
            log.error(
                "Discord refused a reply (HTTP %s, code %s): %s",
                error.status,
                error.code,
                error.text,
            )
            if error.status == 400 and view is not None:
                # Rather the text without its buttons than the user left with "thinking…".
                await self._follow_up(
                    interaction, OutMessage(message.content or escape(SORRY)), ephemeral=ephemeral
                )

    async def _edit_original(self, interaction: discord.Interaction, message: OutMessage) -> bool:
        try:
            await interaction.edit_original_response(
                content=message.content, view=message.view(), allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as error:
            # The message may be gone (a dismissed ephemeral one): answer with a new message.
            log.info(
                "could not edit the pressed message (HTTP %s, code %s)", error.status, error.code
            )
            return False
        return True

    async def _delete_original(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as error:
            log.info("could not delete the deferred reply (HTTP %s)", error.status)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.response.is_done():
                await interaction.followup.send(SORRY, ephemeral=True)
            elif interaction.type is not discord.InteractionType.autocomplete:
                await interaction.response.send_message(SORRY, ephemeral=True)
        except (discord.HTTPException, discord.InteractionResponded):
            log.info("could not send the apology either")

    # ----- helpers -------------------------------------------------------------------------------
    def _invocation(
        self, interaction: discord.Interaction, kind: InvocationKind, name: str, text: str = ""
    ) -> Invocation:
        user = interaction.user
        # Every answer is ephemeral or in the bot's DM, so only this user sees it: to the core,
        # a Discord interaction is a private conversation even in a server channel.
        return Invocation(
            platform=PLATFORM,
            user_id=str(user.id),
            chat_id=str(interaction.channel_id or user.id),
            is_private=True,
            kind=kind,
            name=name,
            text=text,
            display_name=user.display_name,
        )

    def _warm(self, user_id: str) -> None:
        if user_id in self._warming:
            return
        task = asyncio.create_task(
            self.core.warm_catalog(PLATFORM, user_id), name=f"discord-warm-catalog-{user_id}"
        )
        self._warming[user_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._warming.pop(user_id, None)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("catalogue warm-up failed: %r", finished.exception())

        task.add_done_callback(done)
