"""Unit tests of the panel answer parsing, error classification and retry helpers (pure functions).

Payloads are copied from the API reference (/work/shared/panel-api-v2.md) and the seed panel's docs.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tenacity import RetryCallState

from bot.panel.errors import (
    InvalidApiKey,
    PanelRefused,
    PanelUnavailable,
    error_from_text,
    is_invalid_key_text,
    is_rate_limit_text,
    mask_key,
    refusal_reason,
)
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
from bot.panel.parsing import (
    NO_ANSWER,
    UnexpectedAnswer,
    error_text,
    form_value,
    loads,
    parse_balance,
    parse_cancels,
    parse_created_id,
    parse_order_state,
    parse_refill_state,
    parse_refill_statuses,
    parse_refills,
    parse_services,
    parse_statuses,
    request_ids,
    to_bool,
    to_decimal,
    to_id,
    to_int,
    to_optional_decimal,
    to_optional_int,
)
from bot.panel.retry import (
    StopRetryAfterTooLong,
    WaitRetryAfterOrJitter,
    is_retryable,
    parse_retry_after,
)

URL = "https://panel.example/api/v2"

# ---- value coercion ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.90", Decimal("0.90")),
        (0.9, Decimal("0.9")),
        (Decimal("0.27819"), Decimal("0.27819")),
        (8, Decimal(8)),
        ("8", Decimal(8)),
        ("12,345.60000", Decimal("12345.60000")),
        ("1,234,567.5", Decimal("1234567.5")),
        ("1,000", Decimal(1000)),
        ("0,90", Decimal("0.90")),
        (" 100.84292 ", Decimal("100.84292")),
        ("12 345.6", Decimal("12345.6")),
        ("-3.5", Decimal("-3.5")),
    ],
)
def test_to_decimal_accepts_every_spelling(raw: object, expected: Decimal) -> None:
    value = to_decimal(raw)
    assert isinstance(value, Decimal)
    assert value == expected


@pytest.mark.parametrize("raw", [None, True, False, "", "abc", "NaN", "Infinity", "1,2,3", [], {}])
def test_to_decimal_refuses_non_numbers(raw: object) -> None:
    with pytest.raises(ValueError):
        to_decimal(raw)


def test_float_money_keeps_its_shortest_text_not_binary_noise() -> None:
    assert str(to_decimal(0.1)) == "0.1"
    assert to_optional_decimal(None) is None
    assert to_optional_decimal("bad") is None
    assert to_optional_decimal("1,000.5") == Decimal("1000.5")


def test_loads_keeps_json_floats_exact() -> None:
    answer = loads('{"charge": 0.27819, "balance": 100.84292, "min": 50}')
    assert answer["charge"] == Decimal("0.27819") and isinstance(answer["charge"], Decimal)
    assert answer["balance"] == Decimal("100.84292")
    assert answer["min"] == 50 and isinstance(answer["min"], int)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (50, 50),
        ("50", 50),
        (" 50 ", 50),
        ("1,000", 1000),
        ("10,000", 10000),
        ("50.00", 50),
        (50.0, 50),
        (Decimal("3572"), 3572),
        ("-3", -3),
    ],
)
def test_to_int_accepts_every_spelling(raw: object, expected: int) -> None:
    assert to_int(raw) == expected


@pytest.mark.parametrize("raw", [None, True, "", "10.5", 10.5, "x", "1e3x", {}])
def test_to_int_refuses_non_integers(raw: object) -> None:
    with pytest.raises(ValueError):
        to_int(raw)


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("3572", 3572), (0, 0)])
def test_to_optional_int(raw: object, expected: int | None) -> None:
    assert to_optional_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        (None, False),
        ("", False),
        ("maybe", False),
        ({"x": 1}, False),
    ],
)
def test_to_bool_accepts_every_spelling(raw: object, expected: bool) -> None:
    assert to_bool(raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(23501, "23501"), ("23501", "23501"), (" 7 ", "7"), ("ig-followers-7", "ig-followers-7")],
)
def test_to_id_accepts_numbers_and_any_string(raw: object, expected: str) -> None:
    assert to_id(raw) == expected
    assert to_id(Decimal("12")) == "12"


@pytest.mark.parametrize("raw", [None, True, "", "  ", {}, [], 1.5])
def test_to_id_refuses_non_ids(raw: object) -> None:
    with pytest.raises(ValueError):
        to_id(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"error": "Incorrect order ID"}, "Incorrect order ID"),
        ({"error": {"message": "Not enough funds"}}, "Not enough funds"),
        ({"error": True, "message": "Refill not found"}, "Refill not found"),
        ({"error": ""}, None),
        ({"error": None}, None),
        ({"status": "Completed"}, None),
        ("Completed", None),
        (None, None),
    ],
)
def test_error_text(raw: object, expected: str | None) -> None:
    assert error_text(raw) == expected


def test_request_ids_are_stripped_and_deduplicated_in_order() -> None:
    assert request_ids([" 3", "1", "3", "2 ", "1"]) == ["3", "1", "2"]
    for bad in (["1", ""], ["1,2"], ["  "]):
        with pytest.raises(ValueError):
            request_ids(bad)


def test_form_values() -> None:
    assert form_value("https://x.test/p") == "https://x.test/p"
    assert form_value(1000) == "1000"
    assert form_value(["first comment", "second"]) == "first comment\nsecond"
    assert form_value(("@a", "@b", "@c")) == "@a\n@b\n@c"


# ---- services ---------------------------------------------------------------------------------

SEED_SERVICES: list[dict[str, Any]] = [
    {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
    },
    {
        "service": 2,
        "name": "Comments",
        "type": "Custom Comments",
        "category": "Second Category",
        "rate": "8",
        "min": "10",
        "max": "1500",
        "refill": False,
        "cancel": True,
    },
]


def test_services_of_the_seed_panel() -> None:
    services = parse_services(SEED_SERVICES)
    assert services == [
        Service("1", "Followers", "Default", "First Category", Decimal("0.90"), 50, 10000,
                True, True, False, ""),
        Service("2", "Comments", "Custom Comments", "Second Category", Decimal(8), 10, 1500,
                False, True, False, ""),
    ]  # fmt: skip


def test_services_with_numbers_as_numbers_and_other_variants() -> None:
    answer = loads(
        """[
        {"service": "ig-7", "name": "Likes", "type": "Default", "category": "IG", "rate": 0.9,
         "min": 50, "max": 10000, "refill": 1, "cancel": 0, "dripfeed": "1", "desc": "fast"},
        {"service": 3, "name": "Views", "type": "Package", "category": "YT", "rate": "12,345.60000",
         "min": "1,000", "max": "100,000", "refill": "0", "cancel": "1", "dripfeed": false,
         "description": "slow"},
        {"service": 4, "name": "Plays", "category": null, "rate": "1", "min": 1, "max": 2,
         "refill": true, "cancel": false}
    ]"""
    )
    likes, views, plays = parse_services(answer)
    assert (likes.service_id, likes.rate, likes.min, likes.max) == (
        "ig-7",
        Decimal("0.9"),
        50,
        10000,
    )
    assert (likes.refill, likes.cancel, likes.dripfeed, likes.description) == (
        True,
        False,
        True,
        "fast",
    )
    assert (views.rate, views.min, views.max) == (Decimal("12345.60000"), 1000, 100000)
    assert (views.refill, views.cancel, views.dripfeed) == (False, True, False)
    assert views.description == "slow"
    # A missing type falls back to Default (the reference's rule for unknown types).
    assert (plays.type, plays.category, plays.description) == ("Default", "", "")


def test_services_keyed_by_id_are_accepted() -> None:
    keyed = {"1": SEED_SERVICES[0], "2": SEED_SERVICES[1]}
    assert [s.service_id for s in parse_services(keyed)] == ["1", "2"]


def test_an_unreadable_service_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    broken = {"service": 9, "name": "Broken", "rate": "n/a", "min": 1, "max": 2}
    with caplog.at_level(logging.WARNING, logger="bot.panel.parsing"):
        services = parse_services([SEED_SERVICES[0], broken])
    assert [s.service_id for s in services] == ["1"]
    assert "skipping unreadable service entry #1" in caplog.text


@pytest.mark.parametrize("answer", [[{"name": "no id"}], "services", 5, None])
def test_a_service_list_nothing_can_be_read_from_raises(answer: object) -> None:
    with pytest.raises(UnexpectedAnswer):
        parse_services(answer)


def test_an_empty_service_list_is_empty() -> None:
    assert parse_services([]) == []


# ---- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pending", OrderStatus.PENDING),
        ("In progress", OrderStatus.IN_PROGRESS),
        ("IN PROGRESS", OrderStatus.IN_PROGRESS),
        ("in_progress", OrderStatus.IN_PROGRESS),
        ("Processing", OrderStatus.PROCESSING),
        ("Completed", OrderStatus.COMPLETED),
        ("partial", OrderStatus.PARTIAL),
        ("Canceled", OrderStatus.CANCELED),
        ("Cancelled", OrderStatus.CANCELED),
        ("CANCELLED", OrderStatus.CANCELED),
        ("Refunded", OrderStatus.REFUNDED),
        ("Fail", OrderStatus.FAILED),
        ("Failed", OrderStatus.FAILED),
        ("Error", OrderStatus.FAILED),
        (" completed ", OrderStatus.COMPLETED),
        ("Paused", OrderStatus.UNKNOWN),
        (None, OrderStatus.UNKNOWN),
        (3, OrderStatus.UNKNOWN),
    ],
)
def test_order_status_parse(raw: object, expected: OrderStatus) -> None:
    assert OrderStatus.parse(raw) is expected


def test_final_order_statuses() -> None:
    final = {s for s in OrderStatus if s.is_final}
    assert final == {
        OrderStatus.COMPLETED,
        OrderStatus.PARTIAL,
        OrderStatus.CANCELED,
        OrderStatus.REFUNDED,
        OrderStatus.FAILED,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pending", RefillStatus.PENDING),
        ("In progress", RefillStatus.IN_PROGRESS),
        ("completed", RefillStatus.COMPLETED),
        ("Rejected", RefillStatus.REJECTED),
        ("ERROR", RefillStatus.ERROR),
        ("whatever", RefillStatus.UNKNOWN),
    ],
)
def test_refill_status_parse(raw: object, expected: RefillStatus) -> None:
    assert RefillStatus.parse(raw) is expected


def test_final_refill_statuses() -> None:
    final = {s for s in RefillStatus if s.is_final}
    assert final == {RefillStatus.COMPLETED, RefillStatus.REJECTED, RefillStatus.ERROR}


def test_order_state_of_the_seed_panel() -> None:
    answer = {
        "charge": "0.27819",
        "start_count": "3572",
        "status": "Partial",
        "remains": "157",
        "currency": "USD",
    }
    assert parse_order_state("23501", answer) == OrderState(
        "23501", OrderStatus.PARTIAL, "Partial", Decimal("0.27819"), 3572, 157, "USD"
    )


def test_order_state_with_null_start_count_numbers_and_zero_remains() -> None:
    answer = loads(
        '{"charge": 0.5, "start_count": null, "status": "pending", "remains": 0, "currency": "EUR"}'
    )
    state = parse_order_state("7", answer)
    assert state.status is OrderStatus.PENDING and state.raw_status == "pending"
    assert (state.charge, state.start_count, state.remains) == (Decimal("0.5"), None, 0)


def test_order_state_without_a_status_is_unexpected() -> None:
    with pytest.raises(UnexpectedAnswer):
        parse_order_state("1", {"charge": "1"})


SEED_STATUSES = {
    "1": {
        "charge": "0.27819",
        "start_count": "3572",
        "status": "Partial",
        "remains": "157",
        "currency": "USD",
    },
    "10": {"error": "Incorrect order ID"},
    "100": {
        "charge": "1.44219",
        "start_count": "234",
        "status": "In progress",
        "remains": "10",
        "currency": "USD",
    },
}


def test_many_statuses_of_the_seed_panel() -> None:
    result = parse_statuses(SEED_STATUSES, ["1", "10", "100", "404"])
    assert list(result) == ["1", "10", "100", "404"]
    first = result["1"]
    assert isinstance(first, OrderState) and first.status is OrderStatus.PARTIAL
    assert result["10"] == ItemError("Incorrect order ID")
    hundred = result["100"]
    assert isinstance(hundred, OrderState) and hundred.remains == 10
    # An id the panel left out is reported, never silently dropped.
    assert result["404"] == ItemError(NO_ANSWER)


def test_many_statuses_as_a_list_and_as_a_one_id_answer() -> None:
    listed = [{"order": 5, "status": "Completed"}, {"order": "6", "error": "Incorrect order ID"}]
    result = parse_statuses(listed, ["5", "6"])
    assert isinstance(result["5"], OrderState) and result["5"].status is OrderStatus.COMPLETED
    assert result["6"] == ItemError("Incorrect order ID")
    single = parse_statuses({"status": "Canceled", "charge": "0"}, ["9"])
    assert isinstance(single["9"], OrderState) and single["9"].status is OrderStatus.CANCELED


@pytest.mark.parametrize("answer", ["nope", 3, None])
def test_many_statuses_of_another_shape_are_unexpected(answer: object) -> None:
    with pytest.raises(UnexpectedAnswer):
        parse_statuses(answer, ["1"])


# ---- refills, cancel, balance, created ids ----------------------------------------------------


def test_many_refills_of_the_seed_panel() -> None:
    answer = [
        {"order": 1, "refill": 1},
        {"order": 2, "refill": 2},
        {"order": 3, "refill": {"error": "Incorrect order ID"}},
    ]
    assert parse_refills(answer, ["1", "2", "3", "4"]) == [
        RefillCreated("1", "1", None),
        RefillCreated("2", "2", None),
        RefillCreated("3", None, "Incorrect order ID"),
        RefillCreated("4", None, NO_ANSWER),
    ]
    assert parse_refills({"refill": "77"}, ["5"]) == [RefillCreated("5", "77", None)]
    assert parse_refills([{"order": 6, "error": "Refill not found"}], ["6"]) == [
        RefillCreated("6", None, "Refill not found")
    ]


def test_refill_status_one_and_many_of_the_seed_panel() -> None:
    assert parse_refill_state("1", "Completed") == RefillState(
        "1", RefillStatus.COMPLETED, "Completed", None
    )
    assert parse_refill_state("3", {"error": "Refill not found"}) == RefillState(
        "3", RefillStatus.ERROR, "", "Refill not found"
    )
    answer = [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]
    result = parse_refill_statuses(answer, ["1", "2", "3", "4"])
    assert result["1"].status is RefillStatus.COMPLETED
    assert result["2"] == RefillState("2", RefillStatus.REJECTED, "Rejected", None)
    assert result["3"] == RefillState("3", RefillStatus.ERROR, "", "Refill not found")
    assert result["4"] == RefillState("4", RefillStatus.UNKNOWN, "", NO_ANSWER)


def test_cancel_of_the_reference() -> None:
    answer = [
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
        {"order": 2, "cancel": 1},
        {"order": "3", "cancel": "1"},
        {"order": 4, "cancel": True},
        {"order": 5, "cancel": 0},
    ]
    result = parse_cancels(answer, ["9", "2", "3", "4", "5", "6"])
    assert result[:4] == [
        CancelResult("9", False, "Incorrect order ID"),
        CancelResult("2", True, None),
        CancelResult("3", True, None),
        CancelResult("4", True, None),
    ]
    assert result[4].cancelled is False and result[4].error
    assert result[5] == CancelResult("6", False, NO_ANSWER)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"balance": "100.84292", "currency": "USD"}, Balance(Decimal("100.84292"), "USD")),
        ({"balance": "12,345.60000", "currency": "INR"}, Balance(Decimal("12345.60000"), "INR")),
        ({"balance": Decimal("3.5")}, Balance(Decimal("3.5"), "")),
        ({"balance": 7, "currency": None}, Balance(Decimal(7), "")),
    ],
)
def test_balance(answer: object, expected: Balance) -> None:
    assert parse_balance(answer) == expected


@pytest.mark.parametrize("answer", [{}, {"balance": "lots"}, [], "100"])
def test_unreadable_balance_is_unexpected(answer: object) -> None:
    with pytest.raises(UnexpectedAnswer):
        parse_balance(answer)


def test_created_ids() -> None:
    assert parse_created_id({"order": 23501}, "order") == "23501"
    assert parse_created_id({"refill": "1"}, "refill") == "1"
    for bad in ({}, {"order": None}, {"order": {"x": 1}}, [23501]):
        with pytest.raises(UnexpectedAnswer):
            parse_created_id(bad, "order")


# ---- error texts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Not enough funds on balance", "not_enough_funds"),
        ("neworder.error.not_enough_funds", "not_enough_funds"),
        ("Quantity less than minimal 1000", "min_quantity"),
        ("neworder.error.min_quantity", "min_quantity"),
        ("Quantity more than maximum 1000", "max_quantity"),
        ("neworder.error.max_quantity", "max_quantity"),
        ("neworder.error.increment", "increment"),
        (
            "You have active order with this link. Please wait until order being completed.",
            "link_duplicate",
        ),
        ("neworder.error.link_duplicate", "link_duplicate"),
        ("Incorrect service ID", "incorrect_service"),
        ("error.incorrect_service_id", "incorrect_service"),
        ("Incorrect link", "incorrect_link"),
        ("Incorrect quantity", "incorrect_quantity"),
        ("Incorrect order ID", "incorrect_order"),
        ("Refill not found", "refill_not_found"),
        ("Incorrect request", "incorrect_request"),
        ("Incorrect action", "incorrect_request"),
        ("INCORRECT ORDER ID", "incorrect_order"),
        ("Service Unavailable", "other"),
        ("Something odd happened", "other"),
    ],
)
def test_refusal_reason_of_every_reference_text(text: str, reason: str) -> None:
    assert refusal_reason(text) == reason
    assert not is_invalid_key_text(text)


@pytest.mark.parametrize(
    "text", ["Invalid API key", "Incorrect API key", "incorrect api_key", "error.invalid_key"]
)
def test_invalid_key_texts(text: str) -> None:
    assert is_invalid_key_text(text)


def test_rate_limit_texts() -> None:
    assert is_rate_limit_text("Too many requests")
    assert is_rate_limit_text("Rate limit exceeded, try again later")
    assert not is_rate_limit_text("Not enough funds on balance")


def test_mask_key_removes_an_echoed_key() -> None:
    assert mask_key("Invalid API key: S3cretKey42", "S3cretKey42") == "Invalid API key: ***"
    assert mask_key("key s3cretkey42 unknown", "S3cretKey42") == "key *** unknown"
    assert mask_key("no key here", "S3cretKey42") == "no key here"


def test_error_from_text_picks_the_class_and_masks_the_key() -> None:
    key = "S3cretKey42"

    def make(text: str, status: int | None = 200, force: Any = None) -> Exception:
        return error_from_text(
            text, key=key, panel_url=URL, action="add", status_code=status, write=True,
            force_reason=force,
        )  # fmt: skip

    invalid = make(f"Invalid API key {key}")
    assert isinstance(invalid, InvalidApiKey)
    assert key not in str(invalid) and key not in repr(invalid) and key not in invalid.message
    funds = make("Not enough funds on balance", 402)
    assert isinstance(funds, PanelRefused) and funds.reason == "not_enough_funds"
    assert funds.panel_text == "Not enough funds on balance" and funds.status_code == 402
    assert "Not enough funds on balance" in str(funds) and "add" in str(funds)
    limited = make("Too many requests")
    assert isinstance(limited, PanelUnavailable) and limited.reason == "rate_limited"
    down = make("Service temporarily unavailable", 503)
    assert isinstance(down, PanelUnavailable) and down.reason == "server_error"
    assert down.outcome_unknown is True
    refused_503 = make("Not enough funds", 503)
    assert isinstance(refused_503, PanelRefused) and refused_503.reason == "not_enough_funds"
    forced = make("Incorrect request", 200, "incorrect_order")
    assert isinstance(forced, PanelRefused) and forced.reason == "incorrect_order"


# ---- retry policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def _state_after(error: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def _unavailable(reason: Any, status: int | None = None, after: float | None = None) -> Exception:
    return PanelUnavailable(
        "x", panel_url=URL, action="status", reason=reason, status_code=status, retry_after=after
    )


def test_wait_prefers_retry_after_and_caps_it() -> None:
    wait = WaitRetryAfterOrJitter(max_backoff=20.0, rng=random.Random(1))
    assert wait(_state_after(_unavailable("rate_limited", 429, 3.0), 1)) == 3.0
    assert wait(_state_after(_unavailable("rate_limited", 429, 90.0), 1)) == 20.0
    stop = StopRetryAfterTooLong(max_backoff=20.0)
    assert stop(_state_after(_unavailable("rate_limited", 429, 90.0), 1)) is True
    assert stop(_state_after(_unavailable("rate_limited", 429, 3.0), 1)) is False


def test_wait_without_retry_after_is_full_jitter_under_a_growing_capped_window() -> None:
    wait = WaitRetryAfterOrJitter(max_backoff=4.0, rng=random.Random(7))
    error = _unavailable("server_error", 500)
    for attempt, window in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [wait(_state_after(error, attempt)) for _ in range(200)]
        assert all(0 <= w <= window for w in waits)
        assert max(waits) > window * 0.8  # the window really widens; not a constant
    assert len({wait(_state_after(error, 3)) for _ in range(20)}) > 10  # jittered


def test_only_transient_failures_are_retryable() -> None:
    for reason in ("timeout", "connection", "server_error", "rate_limited", "invalid_json"):
        assert is_retryable(_unavailable(reason))
    assert not is_retryable(_unavailable("html", 200))
    assert not is_retryable(_unavailable("html", 403))
    assert not is_retryable(_unavailable("unexpected", 404))
    assert not is_retryable(InvalidApiKey("x", panel_url=URL, action="balance"))
    refused = PanelRefused(
        "x", panel_url=URL, action="status", panel_text="x", reason="incorrect_order"
    )
    assert not is_retryable(refused)
    assert not is_retryable(ValueError("x"))


def test_leading_zero_comma_is_a_decimal_comma() -> None:
    from bot.panel.parsing import to_decimal

    assert to_decimal("0,900") == Decimal("0.900")
    assert to_decimal("-0,5") == Decimal("-0.5")
    assert to_decimal("1,000") == Decimal("1000")
