"""refill and refill_status: ask the panel to refill orders and follow the refills."""

from __future__ import annotations

from bot.core.actions import RefillOrder, RefillRefresh
from bot.core.context import ActiveKey, Context
from bot.core.ids import parse_ids
from bot.core.interrupted import interruption_lines
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, Reply
from bot.panel.errors import PanelError
from bot.panel.models import RefillCreated, RefillState
from storage import orders, refills


async def store_refill(ctx: Context, active: ActiveKey, order_id: str, refill_id: str) -> None:
    """Remember a refill created through the bot, so its status can be followed."""
    row = await orders.get_user_order(ctx.db, ctx.user.id, active.panel_url, order_id)
    await refills.add_refill(
        ctx.db,
        user_id=ctx.user.id,
        order_row_id=row.id if row is not None else None,
        panel_url=active.panel_url,
        credential_id=active.credential.id,
        panel_order_id=order_id,
        panel_refill_id=refill_id,
    )


async def create_refills(ctx: Context, ids: list[str], credential: int = 0) -> Reply:
    """Refill one or many orders and show each order's own result."""
    active = await ctx.key_for(credential)
    # `refill` is never retried automatically: a repeated request could create a second refill.
    interrupted: PanelError | None = None
    try:
        if len(ids) == 1:
            refill_id = await ctx.panel.refill(active.panel_url, active.key, ids[0])
            results = [RefillCreated(ids[0], refill_id, None)]
        else:
            results = await ctx.panel.refills(active.panel_url, active.key, ids)
    except PanelError as error:
        # A later batch failed: the refills of the batches already answered are real.
        if not error.completed:
            raise
        results = [item for item in error.completed if isinstance(item, RefillCreated)]
        interrupted = error
    lines = []
    created: list[str] = []
    for result in results:
        if result.refill_id is not None:
            await store_refill(ctx, active, result.order_id, result.refill_id)
            created.append(result.refill_id)
            lines.append(f"Order #{result.order_id}: refill #{result.refill_id} requested.")
        else:
            lines.append(f"Order #{result.order_id}: {result.error or 'refused'}")
    if interrupted is not None:
        lines.extend(interruption_lines(interrupted, "refilled"))
    if created:
        lines.append("")
        lines.append(f"Follow them with /refill_status {','.join(created)}")
    buttons: tuple[tuple[Button, ...], ...] = ()
    if len(created) == 1:
        refresh = RefillRefresh(ctx.inv.user_id, created[0], active.credential.id)
        buttons = ((await ctx.button("Refill status", refresh),),)
    return Reply("\n".join(lines), buttons=buttons, private=True)


@registry.command(
    "refill",
    "ask the panel to refill orders",
    CommandOption("orders", "order ids, separated by commas or spaces", required=True),
)
async def refill(ctx: Context, args: str) -> Reply:
    """Refill the orders given."""
    return await create_refills(ctx, parse_ids(args, "order", "refill"))


@registry.action(RefillOrder)
async def refill_button(ctx: Context, action: RefillOrder) -> Reply:
    """The Refill button under an order's status."""
    return await create_refills(ctx, [action.order_id], action.credential)


def refill_line(state: RefillState) -> str:
    """One refill's status."""
    if state.error:
        return f"Refill #{state.refill_id}: {state.error}"
    return f"Refill #{state.refill_id}: {state.raw_status or state.status.value}"


async def record_refill(ctx: Context, active: ActiveKey, state: RefillState) -> None:
    """Store a refill's new status if the bot follows it."""
    row = await refills.get_user_refill(ctx.db, ctx.user.id, active.panel_url, state.refill_id)
    if row is None or state.error:
        return
    now = ctx.res.clock()
    await refills.update_refill_status(
        ctx.db,
        row.id,
        status=state.status.value,
        raw_status=state.raw_status,
        is_final=state.status.is_final,
        error=None,
        checked_at=now,
        next_check_at=None if state.status.is_final else now + ctx.res.settings.status_poll_seconds,
        changed=row.raw_status != state.raw_status,
    )


async def refill_statuses(
    ctx: Context, ids: list[str], *, edit: bool, credential: int = 0
) -> Reply:
    """Look up one or many refills."""
    active = await ctx.key_for(credential)
    if len(ids) == 1:
        states = {ids[0]: await ctx.panel.refill_status(active.panel_url, active.key, ids[0])}
    else:
        states = await ctx.panel.refill_statuses(active.panel_url, active.key, ids)
    lines = []
    for refill_id in ids:
        state = states.get(refill_id)
        if state is None:
            lines.append(f"Refill #{refill_id}: no answer from the panel")
            continue
        await record_refill(ctx, active, state)
        lines.append(refill_line(state))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if len(ids) == 1:
        refresh = RefillRefresh(ctx.inv.user_id, ids[0], active.credential.id)
        buttons = ((await ctx.button("↻ Refresh", refresh),),)
    return Reply(
        "\n".join(lines), buttons=buttons, private=True, edit=edit, notice="Updated" if edit else ""
    )


@registry.command(
    "refill_status",
    "status of one or many refills",
    CommandOption("refills", "refill ids, separated by commas or spaces", required=True),
)
async def refill_status(ctx: Context, args: str) -> Reply:
    """Show refill statuses."""
    return await refill_statuses(ctx, parse_ids(args, "refill", "refill_status"), edit=False)


@registry.action(RefillRefresh)
async def refill_refresh(ctx: Context, action: RefillRefresh) -> Reply:
    """Re-check one refill in place."""
    return await refill_statuses(ctx, [action.refill_id], edit=True, credential=action.credential)
