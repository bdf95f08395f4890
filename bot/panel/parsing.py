"""Quirk-tolerant coercion of panel answers into typed values.

Panels disagree on how they spell the same thing (numbers as strings, thousands separators,
booleans as 1/"1"/true, ids as numbers or strings, `desc` or `description`), so every value goes
through the small functions here. JSON is decoded with `parse_float=Decimal` (see `loads`), so money
never passes through a float.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.panel.models import (
    Balance,
    CancelResult,
    ItemError,
    OrderState,
    OrderStatus,
    RefillCreated,
    RefillState,
    RefillStatus,
    Service,
)

log = logging.getLogger(__name__)

NO_ANSWER = "the panel sent no answer for this id"

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_INTEGRAL = re.compile(r"([+-]?\d+)(\.0*)?")
_TRUE = frozenset({"1", "true", "yes", "y", "on", "enabled"})


class UnexpectedAnswer(ValueError):
    """The panel answered JSON of a shape this protocol does not have; the text is safe to show."""


def loads(text: str) -> Any:
    """Decode a JSON answer, keeping every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def _clean_number_text(value: str) -> str:
    # Thousands separators: "12,345.60000"; some panels also group with (non-breaking) spaces.
    text = re.sub(r"[\s\u00a0]+", "", value)
    if text.lstrip("+-").startswith("0,") and _DECIMAL_COMMA.fullmatch(text):
        # "0,900" cannot be a thousands group (no number starts with 0), so it is 0.9.
        return text.replace(",", ".")
    if _THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    if _DECIMAL_COMMA.fullmatch(text):
        # "0,90" cannot be a thousands group, so the comma is a decimal comma.
        return text.replace(",", ".")
    return text


def to_decimal(value: object) -> Decimal:
    """Read money or a rate: 0.9, "0.90", "12,345.60000", Decimal; raise ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        # repr gives the shortest text that round-trips, so 0.9 becomes Decimal("0.9").
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(_clean_number_text(value))
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def to_int(value: object) -> int:
    """Read a count: 50, "50", "1,000", "50.00", 50.0; raise ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _INTEGRAL.fullmatch(_clean_number_text(value))
        if match is None:
            raise ValueError(f"not an integer: {value!r}")
        return int(match.group(1))
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


def to_optional_int(value: object) -> int | None:
    """Like `to_int`, but null, "" and unreadable values give None (start_count may be null)."""
    try:
        return to_int(value)
    except ValueError:
        return None


def to_optional_decimal(value: object) -> Decimal | None:
    """Like `to_decimal`, but null, "" and unreadable values give None."""
    try:
        return to_decimal(value)
    except ValueError:
        return None


def to_bool(value: object) -> bool:
    """Read a flag: true/false, 1/0, "1"/"0", "true"; anything unrecognised is False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    # A flag we cannot read must not offer refill/cancel buttons the panel would refuse.
    return False


def to_id(value: object) -> str:
    """Read an id: 23501, "23501", or a non-numeric string; raise ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Decimal | float):
        return str(to_int(value))
    raise ValueError(f"not an id: {value!r}")


def to_text(value: object) -> str:
    """Read a free text field; null becomes ""."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def error_text(value: object) -> str | None:
    """The text of an `{"error": …}` object, or None when `value` is not one."""
    if not isinstance(value, Mapping) or "error" not in value:
        return None
    error = value["error"]
    if error is None or error is False or error == "":
        return None
    if isinstance(error, str):
        return error.strip() or "error"
    if isinstance(error, Mapping):
        inner = error.get("message") or error.get("error") or error.get("text")
        return to_text(inner) if inner else json.dumps(error, default=str)
    if error is True:
        return to_text(value.get("message")) or "error"
    return to_text(error)


def request_ids(ids: Sequence[str]) -> list[str]:
    """Ids to send in a many-id field: stripped, de-duplicated in order; ValueError on "" or ","."""
    unique: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if not text or "," in text:
            raise ValueError(f"not a usable id: {text!r}")
        unique.setdefault(text, None)
    return list(unique)


def form_value(value: str | int | Sequence[str]) -> str:
    """One `add` field as form text; list fields (comments, usernames…) go one item per line."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(int(value))
    return "\n".join(str(item) for item in value)


def parse_service(item: object) -> Service:
    """Build a Service from one entry of the `services` answer; raise ValueError if unusable."""
    if not isinstance(item, Mapping):
        raise ValueError("a service entry is not an object")
    raw_id = next((item[k] for k in ("service", "service_id", "id") if k in item), None)
    service_id = to_id(raw_id)
    # Some panels call it `desc`, others `description`; take whichever is filled.
    description = to_text(item.get("desc")) or to_text(item.get("description"))
    return Service(
        service_id=service_id,
        name=to_text(item.get("name")).strip() or f"Service {service_id}",
        type=to_text(item.get("type")).strip() or "Default",
        category=to_text(item.get("category")).strip(),
        rate=to_decimal(item.get("rate")),
        min=to_int(item.get("min")),
        max=to_int(item.get("max")),
        refill=to_bool(item.get("refill")),
        cancel=to_bool(item.get("cancel")),
        dripfeed=to_bool(item.get("dripfeed")),
        description=description,
    )


def parse_services(answer: object) -> list[Service]:
    """Build the service list; unreadable entries are skipped with a warning, not fatal."""
    if isinstance(answer, Mapping):
        # A few panels key the list by service id instead of sending an array.
        entries: Sequence[object] = list(answer.values())
    elif isinstance(answer, list):
        entries = answer
    else:
        raise UnexpectedAnswer("the service list is not a list")
    services: list[Service] = []
    for position, entry in enumerate(entries):
        try:
            services.append(parse_service(entry))
        except ValueError as error:
            log.warning("skipping unreadable service entry #%d: %s", position, error)
    if entries and not services:
        raise UnexpectedAnswer("no entry of the service list could be read")
    return services


def parse_balance(answer: object) -> Balance:
    """Build a Balance from `{"balance": "100.84292", "currency": "USD"}`."""
    if not isinstance(answer, Mapping) or "balance" not in answer:
        raise UnexpectedAnswer("the balance answer has no balance")
    try:
        amount = to_decimal(answer["balance"])
    except ValueError:
        raise UnexpectedAnswer("the balance is not a number") from None
    return Balance(amount=amount, currency=to_text(answer.get("currency")).strip())


def parse_order_state(order_id: str, item: object) -> OrderState:
    """Build an OrderState from one status object; unreadable numbers become None."""
    if not isinstance(item, Mapping) or "status" not in item:
        raise UnexpectedAnswer("the order status answer has no status")
    raw_status = to_text(item["status"]).strip()
    return OrderState(
        order_id=order_id,
        status=OrderStatus.parse(raw_status),
        raw_status=raw_status,
        charge=to_optional_decimal(item.get("charge")),
        start_count=to_optional_int(item.get("start_count")),
        remains=to_optional_int(item.get("remains")),
        currency=to_text(item.get("currency")).strip(),
    )


def parse_created_id(answer: object, field: str) -> str:
    """Read the new id of `{"order": 23501}` or `{"refill": "1"}`."""
    if not isinstance(answer, Mapping) or field not in answer:
        raise UnexpectedAnswer(f"the answer has no {field} id")
    try:
        return to_id(answer[field])
    except ValueError:
        raise UnexpectedAnswer(f"the {field} id is unreadable") from None


def items_by_id(
    answer: object, id_field: str, ids: Sequence[str], value_field: str
) -> dict[str, object]:
    """Index a many-id answer by id: an object keyed by id, or a list of objects naming it."""
    if isinstance(answer, Mapping):
        if len(ids) == 1 and ids[0] not in answer and value_field in answer:
            # Asked with the many-id form for one id, some panels answer in the one-id form.
            return {ids[0]: answer}
        return {str(key).strip(): value for key, value in answer.items()}
    if not isinstance(answer, list):
        raise UnexpectedAnswer("the many-id answer is neither an object nor a list")
    items: dict[str, object] = {}
    for entry in answer:
        if isinstance(entry, Mapping) and id_field in entry:
            try:
                items[to_id(entry[id_field])] = entry
            except ValueError:
                log.warning("skipping a many-id entry with an unreadable %s id", id_field)
    return items


def parse_statuses(answer: object, ids: Sequence[str]) -> dict[str, OrderState | ItemError]:
    """Build the many-order status result: a state or the panel's per-id error for every id."""
    items = items_by_id(answer, "order", ids, "status")
    result: dict[str, OrderState | ItemError] = {}
    for order_id in ids:
        item = items.get(order_id)
        text = error_text(item)
        if item is None:
            result[order_id] = ItemError(NO_ANSWER)
        elif text is not None:
            result[order_id] = ItemError(text)
        else:
            try:
                result[order_id] = parse_order_state(order_id, item)
            except UnexpectedAnswer as error:
                result[order_id] = ItemError(str(error))
    return result


def _field_or_self(item: object, field: str) -> object:
    # List answers wrap the value ({"order": 1, "refill": 1}); keyed ones may send it bare.
    if isinstance(item, Mapping) and field in item:
        return item[field]
    return item


def parse_refills(answer: object, ids: Sequence[str]) -> list[RefillCreated]:
    """Build the many-order refill result, one entry per requested order id, in order."""
    items = items_by_id(answer, "order", ids, "refill")
    result: list[RefillCreated] = []
    for order_id in ids:
        if order_id not in items:
            result.append(RefillCreated(order_id, None, NO_ANSWER))
            continue
        item = items[order_id]
        value = _field_or_self(item, "refill")
        text = error_text(value) or error_text(item)
        if text is not None:
            result.append(RefillCreated(order_id, None, text))
            continue
        try:
            result.append(RefillCreated(order_id, to_id(value), None))
        except ValueError:
            result.append(RefillCreated(order_id, None, "the refill id is unreadable"))
    return result


def parse_refill_state(refill_id: str, status: object) -> RefillState:
    """Build a RefillState from a status text or an `{"error": …}` object (status ERROR)."""
    text = error_text(status)
    if text is not None:
        return RefillState(refill_id, RefillStatus.ERROR, "", text)
    if isinstance(status, Mapping | list):
        return RefillState(refill_id, RefillStatus.UNKNOWN, "", None)
    raw = to_text(status).strip()
    return RefillState(refill_id, RefillStatus.parse(raw), raw, None)


def parse_refill_statuses(answer: object, ids: Sequence[str]) -> dict[str, RefillState]:
    """Build the many-refill status result; an id the panel skipped is UNKNOWN with an error."""
    items = items_by_id(answer, "refill", ids, "status")
    result: dict[str, RefillState] = {}
    for refill_id in ids:
        if refill_id not in items:
            result[refill_id] = RefillState(refill_id, RefillStatus.UNKNOWN, "", NO_ANSWER)
            continue
        item = items[refill_id]
        text = error_text(item)
        if text is not None:
            result[refill_id] = RefillState(refill_id, RefillStatus.ERROR, "", text)
        else:
            result[refill_id] = parse_refill_state(refill_id, _field_or_self(item, "status"))
    return result


def parse_cancels(answer: object, ids: Sequence[str]) -> list[CancelResult]:
    """Build the cancel result, one entry per requested order id, in order."""
    items = items_by_id(answer, "order", ids, "cancel")
    result: list[CancelResult] = []
    for order_id in ids:
        if order_id not in items:
            result.append(CancelResult(order_id, False, NO_ANSWER))
            continue
        item = items[order_id]
        value = _field_or_self(item, "cancel")
        text = error_text(value) or error_text(item)
        if text is not None:
            result.append(CancelResult(order_id, False, text))
        elif to_bool(value):
            result.append(CancelResult(order_id, True, None))
        else:
            result.append(CancelResult(order_id, False, "the panel did not cancel this order"))
    return result
