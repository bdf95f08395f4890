"""setkey, keys and forget: the user's panel API keys and their data."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.core.actions import ForgetConfirm, ForgetDrop, KeyPanel, KeyRemove, KeyUse
from bot.core.context import Context
from bot.core.errors import NotYours, UserError
from bot.core.formatting import money
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, Prompt, Reply
from bot.crypto import hint_for
from bot.log_safety import secrets
from bot.panel.errors import InvalidApiKey, PanelError, PanelUnavailable
from storage import credentials, users

KEY_PROMPT = Prompt("key", "API key", placeholder="paste your panel API key", secret=True)
MAX_KEY_LENGTH = 256


def panel_name(url: str) -> str:
    """A panel's short name for display: its host."""
    return urlsplit(url).netloc or url


@registry.command(
    "setkey",
    "set your panel API key",
    CommandOption("key", "your panel API key (from the panel's API page)"),
    private_only=True,
)
async def setkey(ctx: Context, args: str) -> Reply:
    """Register a key for the default panel, or ask which panel and then for the key."""
    key = args.strip()
    panels = ctx.res.settings.panel_urls
    if key:
        return await register_key(ctx, panels[0], key)
    if len(panels) > 1:
        rows = [
            (await ctx.button(panel_name(url), KeyPanel(ctx.inv.user_id, index)),)
            for index, url in enumerate(panels)
        ]
        return Reply("Which panel is the key for?", buttons=tuple(rows), private=True)
    return await ask_for_key(ctx, 0)


async def ask_for_key(ctx: Context, panel_index: int) -> Reply:
    """Wait for the key as the user's next message in this private chat."""
    panels = ctx.res.settings.panel_urls
    await ctx.save_conversation({"kind": "setkey", "panel": panel_index, "chat": ctx.inv.chat_id})
    return Reply(
        f"Send me your API key for {panel_name(panels[panel_index])} as your next message. "
        "I delete your message right after reading it. Send /abort to stop.",
        private=True,
        prompt=KEY_PROMPT,
        edit=ctx.inv.kind == "action",
    )


@registry.action(KeyPanel)
async def choose_panel(ctx: Context, action: KeyPanel) -> Reply:
    """The user picked the panel a new key is for."""
    if not 0 <= action.panel < len(ctx.res.settings.panel_urls):
        raise UserError("That panel is no longer offered. Send /setkey again.")
    return await ask_for_key(ctx, action.panel)


@registry.answer("setkey")
async def key_answer(ctx: Context, state: dict[str, object], text: str) -> Reply:
    """The key arrives as a plain message after /setkey asked for it."""
    panels = ctx.res.settings.panel_urls
    index = state.get("panel", 0)
    panel_url = panels[index] if isinstance(index, int) and 0 <= index < len(panels) else panels[0]
    reply = await register_key(ctx, panel_url, text.strip())
    return reply


async def register_key(ctx: Context, panel_url: str, key: str) -> Reply:
    """Check a key with a balance call, then store it encrypted; never echo it."""
    if len(key) > MAX_KEY_LENGTH or any(char.isspace() for char in key) or not key.isprintable():
        return Reply(
            "That does not look like an API key (one word, no spaces). Nothing was stored; "
            "send /setkey again with the key from your panel's API page.",
            private=True,
            delete_user_message=True,
        )
    # Remember the key before the panel call, so no log line written while checking it shows it.
    secrets.add(key)
    try:
        balance = await ctx.panel.balance(panel_url, key)
    except InvalidApiKey:
        return Reply(
            f"{panel_name(panel_url)} says this API key is invalid. Nothing was stored; check "
            "the key on the panel's API page and send /setkey again.",
            private=True,
            delete_user_message=True,
        )
    except PanelUnavailable:
        return Reply(
            f"I could not reach {panel_name(panel_url)} to check the key, so nothing was stored. "
            "Please try /setkey again in a minute.",
            private=True,
            delete_user_message=True,
        )
    except PanelError as error:
        return Reply(
            f"{panel_name(panel_url)} refused the key check: {error.message}. Nothing was stored.",
            private=True,
            delete_user_message=True,
        )
    ciphertext = ctx.res.cipher.encrypt(key, ctx.key_owner(panel_url))
    credential = await credentials.upsert_credential(
        ctx.db, ctx.user.id, panel_url, ciphertext, hint_for(key)
    )
    ctx.res.catalog.forget(credential.id)
    await ctx.clear_conversation()
    return Reply(
        f"Key …{credential.hint} saved for {panel_name(panel_url)} and made active.\n"
        f"Balance: {money(balance.amount, balance.currency)}\n"
        "Next: /services to browse, /order to place an order.",
        private=True,
        delete_user_message=True,
    )


async def keys_reply(ctx: Context, *, edit: bool = False, notice: str = "") -> Reply:
    """The user's keys (hints only) with buttons to switch and remove."""
    rows = await credentials.list_credentials(ctx.db, ctx.user.id)
    if not rows:
        return Reply(
            "You have no keys yet. Send /setkey YOUR_API_KEY here.",
            private=True,
            edit=edit,
            notice=notice,
        )
    lines = ["Your panel keys:"]
    buttons: list[tuple[Button, ...]] = []
    for row in rows:
        marks = []
        if row.is_active:
            marks.append("active")
        if row.invalid:
            marks.append("rejected by the panel: set a new key")
        suffix = f" ({', '.join(marks)})" if marks else ""
        lines.append(f"• {panel_name(row.panel_url)} …{row.hint}{suffix}")
        line: list[Button] = []
        if not row.is_active:
            line.append(await ctx.button(f"Use …{row.hint}", KeyUse(ctx.inv.user_id, row.id)))
        line.append(
            await ctx.button(f"Remove …{row.hint}", KeyRemove(ctx.inv.user_id, row.id), "danger")
        )
        buttons.append(tuple(line))
    return Reply("\n".join(lines), buttons=tuple(buttons), private=True, edit=edit, notice=notice)


@registry.command("keys", "your panel keys and which one is active", private_only=True)
async def keys(ctx: Context, args: str) -> Reply:
    """List the user's keys."""
    return await keys_reply(ctx)


@registry.action(KeyUse)
async def use_key(ctx: Context, action: KeyUse) -> Reply:
    """Switch the active key."""
    if not await credentials.activate_credential(ctx.db, ctx.user.id, action.credential_id):
        raise NotYours()
    return await keys_reply(ctx, edit=True, notice="Active key switched.")


@registry.action(KeyRemove)
async def remove_key(ctx: Context, action: KeyRemove) -> Reply:
    """Remove one key."""
    if not await credentials.delete_credential(ctx.db, ctx.user.id, action.credential_id):
        raise NotYours()
    ctx.res.catalog.forget(action.credential_id)
    return await keys_reply(ctx, edit=True, notice="Key removed.")


@registry.command("forget", "delete everything the bot holds about you", private_only=True)
async def forget(ctx: Context, args: str) -> Reply:
    """Ask before deleting the user's data."""
    owner = ctx.inv.user_id
    return Reply(
        "This deletes your keys, the orders and refills I track for you, and your alert "
        "settings. Your orders on the panel are not affected. Delete everything?",
        buttons=(
            (
                await ctx.button("Yes, delete everything", ForgetConfirm(owner), "danger"),
                await ctx.button("No, keep it", ForgetDrop(owner)),
            ),
        ),
        private=True,
    )


@registry.action(ForgetConfirm)
async def forget_confirmed(ctx: Context, action: ForgetConfirm) -> Reply:
    """Delete the user and everything that hangs off them."""
    for row in await credentials.list_credentials(ctx.db, ctx.user.id):
        ctx.res.catalog.forget(row.id)
    await users.delete_user(ctx.db, ctx.user.id)
    return Reply("Done: I no longer hold anything about you.", private=True, edit=True)


@registry.action(ForgetDrop)
async def forget_dropped(ctx: Context, action: ForgetDrop) -> Reply:
    """Keep the user's data."""
    return Reply("Kept: nothing was deleted.", private=True, edit=True)
