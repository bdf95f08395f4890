"""The API v2 actions: request fields in, the answer payload out (shapes of the reference table)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from bot.panel.simulator.addorder import parse_add
from bot.panel.simulator.model import PENDING, Account, Refused, SimOrder
from bot.panel.simulator.render import Json, Renderer, encode

if TYPE_CHECKING:
    from bot.panel.simulator.simulator import PanelSimulator

# The reference caps the many-id forms at 100 ids.
MAX_IDS = 100

# (payload, is_error): is_error marks a top-level {"error": ...} answer, the one some panels send
# with a 4xx/5xx status. A payload of bytes is an already encoded answer (the cached catalogue).
Answer = tuple[Json, bool]
Fields = Mapping[str, str]
_Handler = Callable[["PanelSimulator", Account, Fields, Renderer], Answer]


def _error(text: str) -> Answer:
    return {"error": text}, True


def _ids(text: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def _id_value(raw: str, render: Renderer) -> int | str:
    return render.number(int(raw)) if raw.isdigit() else raw


def _order_status(sim: PanelSimulator, order: SimOrder, render: Renderer) -> dict[str, Json]:
    remains = order.remains
    if sim.quirks.pending_remains_zero and order.status == PENDING:
        remains = 0
    return {
        "charge": render.money(order.charge),
        "start_count": render.optional_number(order.start_count),
        "status": render.status(order.status),
        "remains": render.number(remains),
        "currency": order.currency,
    }


def _checked_ids(text: str, noun: str) -> tuple[list[str], Answer | None]:
    """The ids of a many-id request, or the panel's error for an empty or too long list."""
    ids = _ids(text)
    if not ids:
        return ids, _error("Incorrect request")
    if len(ids) > MAX_IDS:
        return ids, _error(f"Too many {noun}")
    return ids, None


def _services(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    quirks = sim.quirks
    # Cached per wire format: a 10,000-service catalogue is big to rebuild on every request.
    cache_key = (quirks.numbers_as_strings, quirks.booleans, quirks.money_as_numbers)
    body = sim.services_cache.get(cache_key)
    if body is None:
        body = encode([render.service(service) for service in sim.catalogue])
        sim.services_cache[cache_key] = body
    return body, False


def _add(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    raw = (fields.get("service") or "").strip()
    service = sim.catalogue.get(int(raw)) if raw.isdigit() and len(raw) < 19 else None
    if service is None:
        return _error("Incorrect service ID")
    try:
        order = sim.place(account, service, parse_add(service, fields))
    except Refused as refused:
        return _error(str(refused))
    return {"order": render.number(order.id)}, False


def _status(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    if "orders" in fields:
        ids, refused = _checked_ids(fields["orders"], "orders")
        if refused is not None:
            return refused
        answer: dict[str, Json] = {}
        for raw in ids:
            order = sim.owned_order(account, raw)
            answer[raw] = (
                _order_status(sim, order, render) if order else {"error": "Incorrect order ID"}
            )
        return answer, False
    order = sim.owned_order(account, fields.get("order", ""))
    if order is None:
        return _error("Incorrect order ID")
    return _order_status(sim, order, render), False


def _one_refill(sim: PanelSimulator, account: Account, raw: str) -> int | str:
    order = sim.owned_order(account, raw)
    if order is None:
        return "Incorrect order ID"
    try:
        return sim.request_refill(account, order).id
    except Refused as refused:
        return str(refused)


def _refill(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    if "orders" in fields:
        ids, refused = _checked_ids(fields["orders"], "orders")
        if refused is not None:
            return refused
        rows: list[Json] = []
        for raw in ids:
            outcome = _one_refill(sim, account, raw)
            refill = render.number(outcome) if isinstance(outcome, int) else {"error": outcome}
            rows.append({"order": _id_value(raw, render), "refill": refill})
        return rows, False
    outcome = _one_refill(sim, account, fields.get("order", ""))
    if isinstance(outcome, str):
        return _error(outcome)
    # The reference answers the one-order form with the id as a string: {"refill": "1"}.
    return {"refill": str(outcome)}, False


def _refill_status(
    sim: PanelSimulator, account: Account, fields: Fields, render: Renderer
) -> Answer:
    not_found: dict[str, Json] = {"error": "Refill not found"}
    if "refills" in fields:
        ids, refused = _checked_ids(fields["refills"], "refills")
        if refused is not None:
            return refused
        rows: list[Json] = []
        for raw in ids:
            refill = sim.owned_refill(account, raw)
            status = render.status(refill.status) if refill else not_found
            rows.append({"refill": _id_value(raw, render), "status": status})
        return rows, False
    refill = sim.owned_refill(account, fields.get("refill", ""))
    return {"status": render.status(refill.status) if refill else not_found}, False


def _cancel(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    # The reference has no one-order form; a lone `order` is taken as a list of one.
    ids, refused = _checked_ids(fields.get("orders", fields.get("order", "")), "orders")
    if refused is not None:
        return refused
    rows: list[Json] = []
    for raw in ids:
        order = sim.owned_order(account, raw)
        outcome: Json = render.number(1)
        if order is None:
            outcome = {"error": "Incorrect order ID"}
        else:
            try:
                sim.cancel(account, order)
            except Refused as refused:
                outcome = {"error": str(refused)}
        rows.append({"order": _id_value(raw, render), "cancel": outcome})
    return rows, False


def _balance(sim: PanelSimulator, account: Account, fields: Fields, render: Renderer) -> Answer:
    return {"balance": render.money(account.balance), "currency": account.currency}, False


ACTIONS: dict[str, _Handler] = {
    "services": _services,
    "add": _add,
    "status": _status,
    "refill": _refill,
    "refill_status": _refill_status,
    "cancel": _cancel,
    "balance": _balance,
}


def handle_action(sim: PanelSimulator, fields: Fields) -> Answer:
    """Answer one API request: the key is checked first, then the action."""
    sim.tick()
    account = sim.account(fields.get("key", ""))
    if account is None:
        return _error("Invalid API key")
    handler = ACTIONS.get(fields.get("action", ""))
    if handler is None:
        return _error("Incorrect action")
    return handler(sim, account, fields, Renderer(sim.quirks))
