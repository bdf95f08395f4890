"""Validation and pricing of an `add` request, type by type, with the texts real panels answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.panel.simulator.catalogue import SimService
from bot.panel.simulator.model import Refused, money

# The drip-feed/subscription delays (minutes) the panel software offers in its form.
SUBSCRIPTION_DELAYS = frozenset(
    {0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210}
    | {240, 270, 300, 360, 420, 480, 540, 600}
)

# One-line text fields each type needs, besides `link` and `quantity`.
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "Mentions Hashtag": ("hashtag",),
    "Mentions User Followers": ("username",),
    "Mentions Media Likers": ("media",),
    "Comment Likes": ("username",),
    "Comment Replies": ("username",),
}
# One-item-per-line fields each type needs.
_LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "SEO": ("keywords",),
    "Mentions": ("usernames",),
    "Mentions with Hashtags": ("usernames", "hashtags"),
    "Invites from Groups": ("groups",),
}
# Types whose quantity is the number of lines of one field (the panel ignores `quantity`).
_QUANTITY_FROM_LINES: dict[str, str] = {
    "Custom Comments": "comments",
    "Custom Comments Package": "comments",
    "Mentions Custom List": "usernames",
    "Comment Replies": "comments",
}
_DRIPFEED_TYPES = frozenset({"Default", "Web Traffic"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A valid `add`: what to deliver and what it costs."""

    # Units delivered in total (all drip-feed runs together).
    quantity: int
    charge: Decimal
    # The link, or a subscription's username: what the duplicate-order check compares.
    link: str
    runs: int | None = None
    interval: int | None = None
    extras: dict[str, str] = field(default_factory=dict)


def charge_for(service: SimService, quantity: int, runs: int | None = None) -> Decimal:
    """Price of an order: rate per 1000 units (a package's rate is per package), times runs."""
    each = service.rate if service.is_package else service.rate * quantity / 1000
    return money(each * (runs or 1))


def _text(fields: Mapping[str, str], name: str) -> str:
    return (fields.get(name) or "").strip()


def _lines(fields: Mapping[str, str], name: str) -> list[str]:
    raw = (fields.get(name) or "").replace("\r\n", "\n").replace("\r", "\n")
    return [line.strip() for line in raw.split("\n") if line.strip()]


def _positive_int(text: str, error: str, *, allow_zero: bool = False) -> int:
    if not text.isdigit():
        raise Refused(error)
    value = int(text)
    if value < 0 or (value == 0 and not allow_zero):
        raise Refused(error)
    return value


def _check_limits(service: SimService, quantity: int) -> None:
    if quantity < service.min:
        raise Refused(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise Refused(f"Quantity more than maximum {service.max}")


def _subscription(service: SimService, fields: Mapping[str, str]) -> OrderRequest:
    username = _text(fields, "username")
    if not username:
        raise Refused("Incorrect username")
    low = _positive_int(_text(fields, "min"), "Incorrect min")
    high = _positive_int(_text(fields, "max"), "Incorrect max")
    _check_limits(service, low)
    _check_limits(service, high)
    if low > high:
        raise Refused("Incorrect quantity")
    extras = {"username": username, "min": str(low), "max": str(high)}
    posts = None
    if _text(fields, "posts"):
        posts = _positive_int(_text(fields, "posts"), "Incorrect posts", allow_zero=True)
        extras["posts"] = str(posts)
    if _text(fields, "old_posts"):
        old = _positive_int(_text(fields, "old_posts"), "Incorrect old posts", allow_zero=True)
        extras["old_posts"] = str(old)
    if _text(fields, "delay"):
        delay = _text(fields, "delay")
        if not delay.isdigit() or int(delay) not in SUBSCRIPTION_DELAYS:
            raise Refused("Incorrect delay")
        extras["delay"] = delay
    if _text(fields, "expiry"):
        try:
            datetime.strptime(_text(fields, "expiry"), "%d/%m/%Y")
        except ValueError:
            raise Refused("Incorrect expiry date") from None
        extras["expiry"] = _text(fields, "expiry")
    # The panel reserves the price of `posts` posts at `max` each (one post when unlimited).
    reserved = high * (posts or 1)
    return OrderRequest(
        quantity=reserved, charge=charge_for(service, reserved), link=username, extras=extras
    )


def _web_traffic(fields: Mapping[str, str], extras: dict[str, str]) -> None:
    country = _text(fields, "country")
    if not country:
        raise Refused("Incorrect country")
    device = _text(fields, "device")
    if device not in ("1", "2", "3", "4", "5"):
        raise Refused("Incorrect device")
    kind = _text(fields, "type_of_traffic")
    if kind not in ("1", "2", "3"):
        raise Refused("Incorrect type of traffic")
    extras.update(country=country, device=device, type_of_traffic=kind)
    if kind == "1":
        if not _text(fields, "google_keyword"):
            raise Refused("Incorrect google keyword")
        extras["google_keyword"] = _text(fields, "google_keyword")
    if kind == "2":
        if not _text(fields, "referring_url"):
            raise Refused("Incorrect referring url")
        extras["referring_url"] = _text(fields, "referring_url")


def _dripfeed(service: SimService, fields: Mapping[str, str]) -> tuple[int | None, int | None]:
    runs_text, interval_text = _text(fields, "runs"), _text(fields, "interval")
    if not runs_text and not interval_text:
        return None, None
    if not service.dripfeed:
        raise Refused("Drip-feed is disabled for this service")
    runs = _positive_int(runs_text, "Incorrect runs")
    interval = _positive_int(interval_text, "Incorrect interval")
    return runs, interval


def parse_add(service: SimService, fields: Mapping[str, str]) -> OrderRequest:
    """Check an `add` for this service like a real panel; Refused carries the panel's text."""
    kind = service.type
    if kind == "Subscriptions":
        return _subscription(service, fields)
    link = _text(fields, "link")
    if not link:
        raise Refused("Incorrect link")
    extras: dict[str, str] = {}
    if kind in _QUANTITY_FROM_LINES:
        name = _QUANTITY_FROM_LINES[kind]
        lines = _lines(fields, name)
        if not lines:
            raise Refused(f"Incorrect {name}")
        extras[name] = "\n".join(lines)
        quantity = len(lines)
    elif kind == "Package":
        quantity = 1
    else:
        quantity = _positive_int(_text(fields, "quantity"), "Incorrect quantity", allow_zero=True)
    if not service.is_package:
        _check_limits(service, quantity)
    for name in _TEXT_FIELDS.get(kind, ()):
        if not _text(fields, name):
            raise Refused(f"Incorrect {name}")
        extras[name] = _text(fields, name)
    for name in _LIST_FIELDS.get(kind, ()):
        lines = _lines(fields, name)
        if not lines:
            raise Refused(f"Incorrect {name}")
        extras[name] = "\n".join(lines)
    if kind == "Poll":
        extras["answer_number"] = str(
            _positive_int(_text(fields, "answer_number"), "Incorrect answer number")
        )
    if kind == "Web Traffic":
        _web_traffic(fields, extras)
    runs, interval = _dripfeed(service, fields) if kind in _DRIPFEED_TYPES else (None, None)
    return OrderRequest(
        quantity=quantity * (runs or 1),
        charge=charge_for(service, quantity, runs),
        link=link,
        runs=runs,
        interval=interval,
        extras=extras,
    )
