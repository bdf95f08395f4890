"""BotCore: one invocation in, one reply out; every error becomes a clear message."""

from __future__ import annotations

import logging

from bot.core import actions
from bot.core.catalog import CatalogCache
from bot.core.context import Context, Resources
from bot.core.errors import NotYours, UserError
from bot.core.handlers import (  # noqa: F401  (importing registers the handlers)
    alerts,
    basics,
    cancel,
    keys,
    order,
    refills,
    services,
    status,
)
from bot.core.registry import registry
from bot.core.seam import Choice, CommandSpec, Invocation, Platform, Reply
from bot.panel.errors import InvalidApiKey, PanelError, PanelRefused, PanelUnavailable
from storage import credentials, users

log = logging.getLogger(__name__)

UNAVAILABLE_REASONS = {
    "timeout": "it did not answer in time",
    "connection": "it could not be reached",
    "server_error": "it answered with a server error",
    "html": "it answered with a web page instead of data (it may be behind a firewall)",
    "invalid_json": "its answer was garbled",
    "rate_limited": "it asked us to slow down",
}
AUTOCOMPLETE_LIMIT = 25


def _may_hold_key(inv: Invocation) -> bool:
    """Whether the user's message could carry an API key (so an error reply deletes it too)."""
    if inv.kind == "text":
        return inv.is_private
    return inv.kind == "command" and inv.name.lower().startswith("setkey") and bool(inv.text)


class BotCore:
    """The platform-neutral bot: adapters hand it invocations and render its replies."""

    def __init__(self, resources: Resources) -> None:
        self.res = resources

    @property
    def commands(self) -> tuple[CommandSpec, ...]:
        """Every command, in help order (adapters register them with the platform)."""
        return tuple(command.spec for command in registry.commands.values())

    @property
    def catalog(self) -> CatalogCache:
        """The shared catalogue cache."""
        return self.res.catalog

    async def handle(self, inv: Invocation) -> Reply:
        """Answer one invocation; never raises (errors become replies, and are logged)."""
        try:
            user = await users.get_or_create_user(
                self.res.db,
                inv.platform,
                inv.user_id,
                chat_id=inv.chat_id if inv.is_private else "",
                display_name=inv.display_name,
            )
            ctx = Context(inv, self.res, user)
            return await self._answer(ctx)
        except Exception:
            log.exception("failed handling %s %s", inv.kind, inv.name if inv.kind != "text" else "")
            return Reply(
                "Sorry, something went wrong on my side. Nothing was changed; please try again.",
                private=True,
                # The message may have held a key (a setkey argument or a prompted answer).
                delete_user_message=_may_hold_key(inv),
            )

    async def _answer(self, ctx: Context) -> Reply:
        inv = ctx.inv
        try:
            return await self._dispatch(ctx)
        except UserError as error:
            return Reply(
                error.text,
                private=True,
                notice=error.text if inv.kind == "action" else "",
                alert=error.alert,
            )
        except InvalidApiKey:
            return await self._invalid_key(ctx)
        except PanelRefused as error:
            return Reply(f"The panel refused that: {error.panel_text}", private=True)
        except PanelUnavailable as error:
            reason = UNAVAILABLE_REASONS.get(error.reason, "it is not working right now")
            if error.outcome_unknown:
                # A write that may have reached the panel: "nothing changed" could be a lie.
                return Reply(
                    f"The panel did not answer properly ({reason}), so I cannot tell whether it "
                    "did what you asked. Check on the panel before trying again; I did not retry.",
                    private=True,
                )
            wait = f" It asked to wait {round(error.retry_after)} s." if error.retry_after else ""
            return Reply(
                f"The panel is not available ({reason}). Nothing was changed; please try "
                f"again in a minute.{wait}",
                private=True,
            )
        except PanelError as error:
            return Reply(f"The panel answered with an error: {error.message}", private=True)

    async def _dispatch(self, ctx: Context) -> Reply:
        inv = ctx.inv
        if inv.kind == "command":
            return await self._command(ctx)
        if inv.kind == "action":
            return await self._action(ctx)
        return await self._text(ctx)

    async def _command(self, ctx: Context) -> Reply:
        name = ctx.inv.name.lower().lstrip("/").split("@", 1)[0]
        command = registry.commands.get(name)
        if command is None:
            raise UserError(f"I do not know the command /{name[:32]}. Send /help for the list.")
        if command.spec.private_only and not ctx.inv.is_private:
            return Reply(
                f"/{name} works only in a private chat with me, so your key and balance stay "
                "private. Open a private chat and send it there.",
                open_private=True,
                # A key typed into a group must not stay there.
                delete_user_message=name == "setkey" and bool(ctx.inv.text.strip()),
            )
        return await command.handler(ctx, ctx.inv.text)

    async def _action(self, ctx: Context) -> Reply:
        try:
            action = actions.unpack(ctx.inv.name)
            if isinstance(action, actions.Ref):
                if action.owner != ctx.inv.user_id:
                    raise NotYours()
                stored = await ctx.unstash(action.ref)
                packed = stored.get("packed") if stored else None
                if not isinstance(packed, str):
                    raise UserError("This button has expired.", alert=True)
                action = actions.unpack(packed)
        except actions.ActionError:
            raise UserError("This button is no longer valid.", alert=True) from None
        if action.owner != ctx.inv.user_id:
            raise NotYours()
        handler = registry.actions.get(type(action))
        if handler is None:
            raise UserError("This button is no longer valid.", alert=True)
        return await handler(ctx, action)

    async def _text(self, ctx: Context) -> Reply:
        state = await ctx.conversation()
        if state is None or state.get("chat") not in (None, ctx.inv.chat_id):
            if not ctx.inv.is_private:
                # In groups, ordinary chatter is not for the bot.
                return Reply("")
            return Reply(
                "I am not waiting for anything from you. Send /help for the commands.",
                private=True,
            )
        kind = state.get("kind")
        handler = registry.answers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await ctx.clear_conversation()
            raise UserError("That question has expired. Send /help for the commands.")
        return await handler(ctx, state, ctx.inv.text)

    async def _invalid_key(self, ctx: Context) -> Reply:
        # The key that was used, which is not always the active one (an order form, a button).
        used = ctx.used_credential
        hint = ""
        if used is not None:
            await credentials.mark_credential_invalid(self.res.db, used.id, True)
            hint = f" (…{used.hint})"
        return Reply(
            f"The panel rejected your API key{hint}. Set a new one with /setkey in a private "
            "chat with me.",
            private=True,
        )

    async def warm_catalog(self, platform: Platform, user_id: str) -> None:
        """Fetch the user's catalogue into the cache if it is not there (for autocomplete)."""
        user = await users.get_user(self.res.db, platform, user_id)
        if user is None:
            return
        inv = Invocation(platform, user_id, user_id, True, "command", "services")
        ctx = Context(inv, self.res, user)
        try:
            active = await ctx.active_key()
            await self.res.catalog.get(active.panel_url, active.credential.id, active.key)
        except (UserError, PanelError) as error:
            log.info("catalogue warm-up skipped: %s", type(error).__name__)

    async def complete_service(self, platform: Platform, user_id: str, query: str) -> list[Choice]:
        """Up to 25 services matching `query` from the user's cached catalogue (no panel call)."""
        user = await users.get_user(self.res.db, platform, user_id)
        if user is None:
            return []
        active = await credentials.get_active_credential(self.res.db, user.id)
        if active is None:
            return []
        catalog = self.res.catalog.cached(active.panel_url, active.id)
        if catalog is None:
            return []
        found = (
            catalog.search(query, limit=AUTOCOMPLETE_LIMIT)
            if query.strip()
            else catalog.services[:AUTOCOMPLETE_LIMIT]
        )
        return [
            Choice(f"#{service.service_id} {service.name}"[:100], service.service_id)
            for service in found
        ]
