"""start/help, abort, and balance: the commands that need no state of their own."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.formatting import money
from bot.core.registry import registry
from bot.core.seam import Reply

COMMAND_HELP = (
    ("setkey", "set your panel API key (private chat)"),
    ("keys", "your keys and which one is active"),
    ("balance", "your panel balance"),
    ("services", "browse or search services: /services instagram likes"),
    ("order", "order step by step, or /order <service id> <link> <quantity>"),
    ("status", "order status: /status 123 or /status 1,2,3"),
    ("orders", "the orders you placed or looked up here"),
    ("refill", "refill orders: /refill 123"),
    ("refill_status", "refill status: /refill_status 45"),
    ("cancel", "cancel orders: /cancel 123"),
    ("alerts", "status alerts on/off, low-balance alert: /alerts balance 5"),
    ("abort", "leave the current question or order form"),
    ("forget", "delete everything I hold about you"),
)


def help_text(platform: str) -> str:
    """What the bot does and its commands (how to give the key depends on the platform)."""
    if platform == "discord":
        begin = "To begin, use /setkey: a private form opens for your panel API key"
    else:
        begin = "To begin, open a private chat with me and send /setkey YOUR_API_KEY"
    lines = [
        "I place and track orders on your SMM panel through its API.",
        "",
        f"{begin} (your panel's API page shows the key). I check it with the panel and store "
        "it encrypted; only its last 4 characters are ever shown.",
        "",
        "Commands:",
    ]
    lines.extend(f"/{name} - {text}" for name, text in COMMAND_HELP)
    lines.append("")
    lines.append("You are alerted when an order's status changes (see /alerts).")
    return "\n".join(lines)


@registry.command("start", "what this bot does and how to begin")
async def start(ctx: Context, args: str) -> Reply:
    """Greet the user and show the commands."""
    return Reply(help_text(ctx.inv.platform))


@registry.command("help", "the commands")
async def help_command(ctx: Context, args: str) -> Reply:
    """Show the commands."""
    return Reply(help_text(ctx.inv.platform))


@registry.command("abort", "leave the current question or order form")
async def abort(ctx: Context, args: str) -> Reply:
    """Forget whatever the bot was waiting for from this user."""
    waiting = await ctx.conversation()
    await ctx.clear_conversation()
    if waiting is None:
        return Reply("Nothing to abort: I was not waiting for anything.", private=True)
    return Reply("Aborted. Nothing was ordered or changed.", private=True)


@registry.command("balance", "your panel balance", private_only=True)
async def balance(ctx: Context, args: str) -> Reply:
    """Show the balance of the active key."""
    active = await ctx.active_key()
    result = await ctx.panel.balance(active.panel_url, active.key)
    return Reply(
        f"Balance: {money(result.amount, result.currency)}\n"
        f"Panel: {active.panel_url} (key …{active.credential.hint})",
        private=True,
    )
