"""The texts and buttons of pushed alerts, and their JSON form in the outbox.

An alert is stored as `{"text": ..., "buttons": [[{"label", "action", "style"}, ...], ...]}` and
turned back into a private `Reply` when it is delivered, so the adapters render it like any reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import get_args
from urllib.parse import urlsplit

from bot.core.actions import (
    Action,
    ActionError,
    ActionTooLong,
    RefillOrder,
    RefillRefresh,
    StatusRefresh,
)
from bot.core.formatting import money, progress, shorten
from bot.core.seam import Button, ButtonStyle, Reply
from bot.panel.models import Balance, OrderState, OrderStatus, RefillState, RefillStatus
from storage.order_polling import PollTarget
from storage.refills import RefillRow

# An alert is always ONE message on every platform, so a send can never be split into parts of
# which only some arrive (and a retry repeats those). Discord takes 2000 characters after the
# adapter's markdown escaping, which at worst doubles the text; Telegram takes 4096.
MAX_TEXT = 1000
_STYLES: dict[object, ButtonStyle] = {style: style for style in get_args(ButtonStyle)}
REFILLABLE = (OrderStatus.COMPLETED, OrderStatus.PARTIAL)


def reply_to_payload(reply: Reply) -> dict[str, object]:
    """The outbox payload of a reply: its text and its button rows."""
    rows = [
        [{"label": button.label, "action": button.action, "style": button.style} for button in row]
        for row in reply.buttons
    ]
    return {"text": fit_text(reply.text), "buttons": rows}


def fit_text(text: str) -> str:
    """The text cut to MAX_TEXT characters (with an ellipsis) so it fits one message anywhere."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def reply_from_payload(payload: Mapping[str, object]) -> Reply:
    """The private Reply stored in an outbox payload (malformed parts are dropped, not fatal)."""
    text = payload.get("text")
    rows: list[tuple[Button, ...]] = []
    raw_rows = payload.get("buttons")
    for raw_row in raw_rows if isinstance(raw_rows, list) else []:
        row: list[Button] = []
        for item in raw_row if isinstance(raw_row, list) else []:
            if not isinstance(item, Mapping):
                continue
            label, action, style = item.get("label"), item.get("action"), item.get("style")
            if isinstance(label, str) and isinstance(action, str) and label and action:
                row.append(Button(label, action, _STYLES.get(style, "secondary")))
        if row:
            rows.append(tuple(row))
    return Reply(fit_text(str(text or "")), buttons=tuple(rows), private=True)


def _status_name(raw: str, status: str) -> str:
    if raw:
        return raw
    return status.replace("_", " ").capitalize() if status else "new"


def order_alert(target: PollTarget, state: OrderState, owner: str) -> Reply:
    """A status change of one order: what changed, progress, charge, and Status/Refill buttons."""
    title = f"🔔 Order #{target.panel_order_id}"
    if target.service_name:
        title += f" — {shorten(target.service_name, 120)}"
    old = _status_name(target.raw_status, target.status)
    new = _status_name(state.raw_status, state.status.value)
    if target.status == state.status.value:
        change = f"Status: {new} (remains {_count(target.remains)} → {_count(state.remains)})"
    else:
        change = f"Status: {old} → {new}"
    lines = [title, change]
    # Without the quantity (an order looked up by id) a bar would show 0% for any running order.
    if target.quantity or state.status is OrderStatus.COMPLETED:
        lines.append(progress(target.quantity, state.remains, state.status))
    charge = state.charge if state.charge is not None else target.charge
    details = [f"Charge: {money(charge, state.currency or target.currency)}"]
    details.append(f"Remains: {_count(state.remains)}")
    if target.quantity:
        details[-1] += f" of {target.quantity}"
    lines.append(" · ".join(details))
    order_id, credential = target.panel_order_id, target.credential_id
    buttons = [
        _button("Status", StatusRefresh(owner, order_id, credential), "secondary"),
        _button("Refill", RefillOrder(owner, order_id, credential), "primary")
        if target.can_refill and state.status in REFILLABLE
        else None,
    ]
    return Reply("\n".join(lines), buttons=_row(buttons), private=True)


def _button(label: str, action: Action, style: ButtonStyle) -> Button | None:
    """A button naming the key the order belongs to; None if its id cannot fit in 64 bytes.

    The alert is written inside the poller's transaction, so it cannot store bigger state behind
    a Ref the way replies do; /status still works for such ids.
    """
    try:
        return Button(label, action.pack(), style)
    except (ActionTooLong, ActionError):
        return None


def _row(buttons: list[Button | None]) -> tuple[tuple[Button, ...], ...]:
    present = tuple(button for button in buttons if button is not None)
    return (present,) if present else ()


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def refill_alert(row: RefillRow, state: RefillState, owner: str) -> Reply:
    """A status change of one refill the bot follows."""
    old = _status_name(row.raw_status, row.status)
    new = state.error if state.error else _status_name(state.raw_status, state.status.value)
    lines = [
        f"🔁 Refill #{row.panel_refill_id} of order #{row.panel_order_id}",
        f"Status: {old} → {shorten(new, 300)}",
    ]
    if state.status is RefillStatus.COMPLETED:
        lines.append("The refill is done.")
    elif state.status in (RefillStatus.REJECTED, RefillStatus.ERROR):
        lines.append("The panel did not refill this order.")
    credential = row.credential_id or 0
    buttons = [
        _button(
            "Refill status", RefillRefresh(owner, row.panel_refill_id, credential), "secondary"
        ),
        _button("Order status", StatusRefresh(owner, row.panel_order_id, credential), "secondary"),
    ]
    return Reply("\n".join(lines), buttons=_row(buttons), private=True)


def low_balance_alert(balance: Balance, threshold: Decimal) -> Reply:
    """The balance fell below the user's threshold."""
    return Reply(
        f"⚠ Your panel balance is low: {money(balance.amount, balance.currency)} (your alert "
        f"threshold is {money(threshold, balance.currency)}).\n"
        "Top up on the panel so new orders go through. I will not remind you again until the "
        "balance is back above the threshold. Change it with /alerts balance <amount>, or turn it "
        "off with /alerts balance off.",
        private=True,
    )


def invalid_key_alert(panel_url: str, hint: str) -> Reply:
    """The panel now rejects the user's key: ask for a new one."""
    host = urlsplit(panel_url).hostname or panel_url
    which = f" (…{hint})" if hint else ""
    return Reply(
        f"🔑 The panel {host} no longer accepts your API key{which}. I stopped checking your "
        "orders there. Set a new key with /setkey in a private chat with me and the alerts resume.",
        private=True,
    )
