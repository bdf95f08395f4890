"""cancel: cancel one or many orders after a confirm button."""

from __future__ import annotations

from bot.core.actions import CancelAsk, CancelConfirm, CancelDrop
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.ids import parse_ids
from bot.core.interrupted import interruption_lines
from bot.core.registry import registry
from bot.core.seam import CommandOption, Reply
from bot.panel.errors import PanelError
from bot.panel.models import CancelResult


async def ask_cancel(ctx: Context, ids: list[str], credential: int = 0) -> Reply:
    """Ask first; the ids and the key they belong to wait in SQLite behind the button."""
    active = await ctx.key_for(credential)
    ref = await ctx.stash({"cancel": ids, "credential": active.credential.id})
    owner = ctx.inv.user_id
    shown = ", ".join(f"#{order_id}" for order_id in ids[:20])
    if len(ids) > 20:
        shown += f" and {len(ids) - 20} more"
    return Reply(
        f"Cancel {'this order' if len(ids) == 1 else f'these {len(ids)} orders'}: {shown}?\n"
        "Panels only cancel orders that have not started.",
        buttons=(
            (
                await ctx.button("Yes, cancel", CancelConfirm(owner, ref), "danger"),
                await ctx.button("No, keep", CancelDrop(owner)),
            ),
        ),
        private=True,
    )


@registry.command(
    "cancel",
    "cancel one or many orders",
    CommandOption("orders", "order ids, separated by commas or spaces", required=True),
)
async def cancel(ctx: Context, args: str) -> Reply:
    """Cancel the orders given, after confirmation."""
    return await ask_cancel(ctx, parse_ids(args, "order", "cancel"))


@registry.action(CancelAsk)
async def cancel_button(ctx: Context, action: CancelAsk) -> Reply:
    """The Cancel button under an order's status."""
    return await ask_cancel(ctx, [action.order_id], action.credential)


@registry.action(CancelConfirm)
async def cancel_confirmed(ctx: Context, action: CancelConfirm) -> Reply:
    """Send the cancel request once and show each order's own result."""
    pending = await ctx.unstash(action.ref)
    credential = pending.get("credential", 0) if pending else 0
    active = await ctx.key_for(credential if isinstance(credential, int) else 0)
    # Claimed atomically before the panel call, so a double press cannot send it twice.
    stored = await ctx.take_stash(action.ref)
    ids = stored.get("cancel") if stored else None
    if not isinstance(ids, list) or not ids:
        raise UserError("This cancel request was already sent or has expired.")
    interrupted: PanelError | None = None
    try:
        # `cancel` is never retried automatically (a write); each order's own answer is shown.
        results = await ctx.panel.cancel(active.panel_url, active.key, [str(item) for item in ids])
    except PanelError as error:
        if not error.completed:
            raise
        results = [item for item in error.completed if isinstance(item, CancelResult)]
        interrupted = error
    lines = []
    for result in results:
        if result.cancelled:
            lines.append(f"Order #{result.order_id}: cancel requested.")
        else:
            lines.append(f"Order #{result.order_id}: not cancelled — {result.error or 'refused'}")
    if interrupted is not None:
        lines.extend(interruption_lines(interrupted, "cancelled"))
    return Reply("\n".join(lines), private=True, edit=True)


@registry.action(CancelDrop)
async def cancel_dropped(ctx: Context, action: CancelDrop) -> Reply:
    """Keep the orders."""
    return Reply("Kept: nothing was cancelled.", private=True, edit=True)
