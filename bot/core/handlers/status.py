"""status and orders: look up orders on the panel, show progress, and list the user's orders."""

from __future__ import annotations

from bot.core.actions import CancelAsk, OrdersPage, RefillOrder, StatusRefresh
from bot.core.context import ActiveKey, Context
from bot.core.errors import UserError
from bot.core.formatting import money, progress, shorten
from bot.core.ids import parse_ids
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, Reply
from bot.panel.models import ItemError, OrderState, OrderStatus
from storage import orders
from storage.orders import OrderRow

ORDERS_PER_PAGE = 8
REFILLABLE = (OrderStatus.COMPLETED, OrderStatus.PARTIAL)


async def record_state(ctx: Context, active: ActiveKey, state: OrderState) -> OrderRow:
    """Track the order as the user's and store what the panel said about it."""
    row = await orders.get_user_order(ctx.db, ctx.user.id, active.panel_url, state.order_id)
    if row is None:
        row = await orders.track_order(
            ctx.db,
            user_id=ctx.user.id,
            credential_id=active.credential.id,
            panel_url=active.panel_url,
            panel_order_id=state.order_id,
        )
    now = ctx.res.clock()
    changed = (row.raw_status, row.remains) != (state.raw_status, state.remains)
    await orders.update_order_status(
        ctx.db,
        row.id,
        status=state.status.value,
        raw_status=state.raw_status,
        charge=state.charge,
        remains=state.remains,
        start_count=state.start_count,
        currency=state.currency or None,
        is_final=state.status.is_final,
        checked_at=now,
        next_check_at=None if state.status.is_final else now + ctx.res.settings.status_poll_seconds,
        changed=changed,
    )
    refreshed = await orders.get_user_order(ctx.db, ctx.user.id, active.panel_url, state.order_id)
    return refreshed or row


def order_block(state: OrderState, row: OrderRow | None) -> str:
    """One order's status, progress bar and numbers."""
    title = f"Order #{state.order_id}"
    if row is not None and row.service_name:
        title += f" — {row.service_name}"
    quantity = row.quantity if row is not None else None
    status_text = state.raw_status or state.status.value
    lines = [title, f"Status: {status_text} {progress(quantity, state.remains, state.status)}"]
    details = [f"Charge: {money(state.charge, state.currency)}"]
    details.append(f"Start count: {state.start_count if state.start_count is not None else '—'}")
    details.append(f"Remains: {state.remains if state.remains is not None else '—'}")
    if quantity:
        details.append(f"Quantity: {quantity}")
    lines.append(" · ".join(details))
    return "\n".join(lines)


async def order_buttons(
    ctx: Context, state: OrderState, row: OrderRow | None, credential: int
) -> tuple[Button, ...]:
    """Refresh, and Refill / Cancel only where the service and the status allow them.

    The buttons name the key the order belongs to, so they keep acting on that panel's order
    after the user switches keys. An order only looked up by id has an unknown service: the
    buttons are offered and the panel decides.
    """
    owner = ctx.inv.user_id
    order_id = state.order_id
    unknown_service = row is None or row.state == "tracked"
    buttons = [await ctx.button("↻ Refresh", StatusRefresh(owner, order_id, credential))]
    if state.status in REFILLABLE and (unknown_service or (row is not None and row.can_refill)):
        buttons.append(
            await ctx.button("Refill", RefillOrder(owner, order_id, credential), "primary")
        )
    if not state.status.is_final and (unknown_service or (row is not None and row.can_cancel)):
        buttons.append(await ctx.button("Cancel", CancelAsk(owner, order_id, credential), "danger"))
    return tuple(buttons)


async def single_status(ctx: Context, order_id: str, *, edit: bool, credential: int = 0) -> Reply:
    """One order with its buttons, through the key it belongs to (0: the active key)."""
    active = await ctx.key_for(credential)
    state = await ctx.panel.status(active.panel_url, active.key, order_id)
    row = await record_state(ctx, active, state)
    buttons = await order_buttons(ctx, state, row, active.credential.id)
    return Reply(
        order_block(state, row),
        buttons=(buttons,),
        private=True,
        edit=edit,
        notice="Updated" if edit else "",
    )


@registry.command(
    "status",
    "status of one or many orders",
    CommandOption("orders", "order ids, separated by commas or spaces", required=True),
)
async def status(ctx: Context, args: str) -> Reply:
    """Look up one or many orders (batches of 100 are the client's job)."""
    ids = parse_ids(args, "order", "status")
    if len(ids) == 1:
        return await single_status(ctx, ids[0], edit=False)
    active = await ctx.active_key()
    results = await ctx.panel.statuses(active.panel_url, active.key, ids)
    blocks = []
    for order_id in ids:
        result = results.get(order_id)
        if isinstance(result, OrderState):
            row = await record_state(ctx, active, result)
            blocks.append(order_block(result, row))
        else:
            message = result.message if isinstance(result, ItemError) else "no answer"
            blocks.append(f"Order #{order_id}: {message}")
    return Reply("\n\n".join(blocks), private=True)


@registry.action(StatusRefresh)
async def refresh(ctx: Context, action: StatusRefresh) -> Reply:
    """Re-check one order and edit the message in place."""
    return await single_status(ctx, action.order_id, edit=True, credential=action.credential)


def order_line(row: OrderRow) -> str:
    """One of the user's orders in the /orders list."""
    if row.panel_order_id:
        head = f"#{row.panel_order_id}"
    else:
        head = {
            "intent": "(placing)",
            "unknown": "(outcome unknown)",
            "failed": "(not placed)",
        }.get(row.state, "(?)")
    name = shorten(row.service_name, 40) if row.service_name else "service ?"
    status = OrderStatus.parse(row.raw_status) if row.raw_status else None
    status_text = row.raw_status or (row.state if not row.panel_order_id else "not checked yet")
    bar = f" {progress(row.quantity, row.remains, status)}" if status is not None else ""
    return f"{head} · {name} · {status_text}{bar}"


async def orders_reply(ctx: Context, page: int, active_only: bool) -> Reply:
    """A page of the user's orders, newest first."""
    total = await orders.count_user_orders(ctx.db, ctx.user.id, active_only=active_only)
    pages = max(1, -(-total // ORDERS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    rows = await orders.list_user_orders(
        ctx.db,
        ctx.user.id,
        active_only=active_only,
        limit=ORDERS_PER_PAGE,
        offset=page * ORDERS_PER_PAGE,
    )
    owner = ctx.inv.user_id
    scope = "active orders" if active_only else "orders"
    if not rows:
        text = (
            f"You have no {scope} here yet. Place one with /order, or look one up with /status 123."
        )
    else:
        text = "\n".join(
            [f"Your {scope} (page {page + 1}/{pages}, newest first):", ""]
            + [order_line(row) for row in rows]
        )
    nav: list[Button] = []
    if page > 0:
        nav.append(await ctx.button("◀ Prev", OrdersPage(owner, page - 1, active_only)))
    toggle = "All orders" if active_only else "Active only"
    nav.append(await ctx.button(toggle, OrdersPage(owner, 0, not active_only)))
    if page + 1 < pages:
        nav.append(await ctx.button("Next ▶", OrdersPage(owner, page + 1, active_only)))
    return Reply(text, buttons=(tuple(nav),), private=True, edit=ctx.inv.kind == "action")


@registry.command(
    "orders",
    "your orders, newest first",
    CommandOption("filter", "all or active", kind="choice", choices=("all", "active")),
    private_only=True,
)
async def orders_command(ctx: Context, args: str) -> Reply:
    """List the user's orders; `/orders active` shows only the unfinished ones."""
    word = args.strip().lower()
    if word not in ("", "all", "active"):
        raise UserError("Use /orders, or /orders active for the unfinished ones.")
    return await orders_reply(ctx, 0, word == "active")


@registry.action(OrdersPage)
async def orders_page(ctx: Context, action: OrdersPage) -> Reply:
    """Page through (or filter) the user's orders."""
    return await orders_reply(ctx, action.page, action.active)
