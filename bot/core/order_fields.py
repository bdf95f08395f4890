"""The fields an `add` request needs for each service type, and how each answer is checked.

Driven by the `add` table of the panel reference: the wizard asks exactly these fields, in order,
skipping the ones whose condition does not hold for the answers so far.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from bot.panel.models import Service

FieldKind = Literal[
    "link", "quantity", "lines", "count", "text", "username", "url", "choice", "date"
]
Answers = Mapping[str, object]

SUBSCRIPTION_DELAYS = tuple(
    [
        "0",
        "5",
        "10",
        "15",
        "20",
        "30",
        "40",
        "50",
        "60",
        "90",
        "120",
        "150",
        "180",
        "210",
        "240",
        "270",
        "300",
        "360",
        "420",
        "480",
        "540",
        "600",
    ]
)
WEB_DEVICES = {"1": "Desktop", "2": "Android", "3": "iOS", "4": "Mixed mobile", "5": "Mixed"}
WEB_TRAFFIC_TYPES = {"1": "Google keyword", "2": "Custom referrer", "3": "Blank referrer"}

_URL = re.compile(r"^(https?://)?([\w-]+\.)+[a-z]{2,}(:\d+)?(/\S*)?$", re.IGNORECASE)
_USERNAME = re.compile(r"^@?[\w.]{1,64}$")
_MAX_TEXT = 4000


class InvalidAnswer(ValueError):
    """An answer the user must correct; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an order form."""

    name: str
    label: str
    kind: FieldKind
    optional: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    # Ask this field only when the condition on earlier answers holds.
    when: Callable[[Answers], bool] | None = None
    hint: str = ""

    @property
    def multiline(self) -> bool:
        """Whether the answer is a list, one item per line."""
        return self.kind == "lines"


def _field(name: str, label: str, kind: FieldKind, **extra: object) -> FieldSpec:
    return FieldSpec(name, label, kind, **extra)  # type: ignore[arg-type]


LINK = _field("link", "link", "link", hint="the URL (or @username) of the page or post")
QUANTITY = _field("quantity", "quantity", "quantity")
RUNS = _field(
    "runs",
    "drip-feed runs",
    "count",
    optional=True,
    hint="how many times to deliver the quantity; skip for a single delivery",
)
INTERVAL = _field(
    "interval",
    "drip-feed interval in minutes",
    "count",
    when=lambda answers: bool(answers.get("runs")),
)


def _lines(name: str, label: str) -> FieldSpec:
    return _field(name, label, "lines", hint="one per line")


FIELDS_BY_TYPE: dict[str, tuple[FieldSpec, ...]] = {
    "default": (LINK, QUANTITY),
    "package": (LINK,),
    "seo": (LINK, QUANTITY, _lines("keywords", "keywords")),
    "custom comments": (LINK, _lines("comments", "comments")),
    "custom comments package": (LINK, _lines("comments", "comments")),
    "mentions": (LINK, QUANTITY, _lines("usernames", "usernames")),
    "mentions with hashtags": (
        LINK,
        QUANTITY,
        _lines("usernames", "usernames"),
        _lines("hashtags", "hashtags"),
    ),
    "mentions custom list": (LINK, _lines("usernames", "usernames")),
    "mentions hashtag": (LINK, QUANTITY, _field("hashtag", "hashtag", "text")),
    "mentions user followers": (LINK, QUANTITY, _field("username", "username", "username")),
    "mentions media likers": (LINK, QUANTITY, _field("media", "media URL", "url")),
    "comment likes": (
        LINK,
        QUANTITY,
        _field("username", "username of the comment's owner", "username"),
    ),
    "comment replies": (
        LINK,
        _field("username", "username of the comment's owner", "username"),
        _lines("comments", "replies"),
    ),
    "poll": (LINK, QUANTITY, _field("answer_number", "answer number", "count")),
    "invites from groups": (LINK, QUANTITY, _lines("groups", "groups")),
    "subscriptions": (
        _field("username", "username", "username"),
        _field("min", "minimum quantity per post", "quantity"),
        _field("max", "maximum quantity per post", "quantity"),
        _field("posts", "number of new posts", "count", optional=True),
        _field("old_posts", "number of old posts", "count", optional=True),
        _field(
            "delay",
            "delay in minutes",
            "choice",
            optional=True,
            choices=tuple((value, value) for value in SUBSCRIPTION_DELAYS),
        ),
        _field("expiry", "expiry date (d/m/Y)", "date", optional=True),
    ),
    "web traffic": (
        LINK,
        QUANTITY,
        _field("country", "country (code or name)", "text"),
        _field("device", "device", "choice", choices=tuple(WEB_DEVICES.items())),
        _field(
            "type_of_traffic", "type of traffic", "choice", choices=tuple(WEB_TRAFFIC_TYPES.items())
        ),
        _field(
            "google_keyword",
            "Google keyword",
            "text",
            when=lambda answers: answers.get("type_of_traffic") == "1",
        ),
        _field(
            "referring_url",
            "referring URL",
            "url",
            when=lambda answers: answers.get("type_of_traffic") == "2",
        ),
    ),
}
# Types whose quantity is the number of lines of a list field.
QUANTITY_FROM_LINES = {
    "custom comments": "comments",
    "mentions custom list": "usernames",
    "comment replies": "comments",
}
# Types whose rate is the price of one package rather than of 1000 units.
PRICED_PER_PACKAGE = {"package", "custom comments package"}
# Types that accept the optional drip-feed fields when the service allows drip-feed.
DRIPFEED_TYPES = {"default", "web traffic"}


def type_key(service_type: str) -> str:
    """Normalise a panel's type name (panels vary in case and spacing)."""
    return " ".join(service_type.lower().replace("_", " ").split())


def fields_for(service: Service) -> tuple[FieldSpec, ...]:
    """The form of a service: its type's fields (unknown types fall back to link + quantity)."""
    key = type_key(service.type)
    fields = FIELDS_BY_TYPE.get(key, (LINK, QUANTITY))
    if service.dripfeed and key in DRIPFEED_TYPES:
        # Drip-feed repeats the quantity, so its fields follow the quantity.
        position = fields.index(QUANTITY) + 1
        fields = (*fields[:position], RUNS, INTERVAL, *fields[position:])
    return fields


def next_field(service: Service, answers: Answers) -> FieldSpec | None:
    """The first field still to ask, or None when the form is complete."""
    for spec in fields_for(service):
        if spec.name in answers:
            continue
        if spec.when is not None and not spec.when(answers):
            continue
        return spec
    return None


def _whole_number(text: str, what: str) -> int:
    cleaned = text.strip().replace(" ", "").replace("_", "")
    # isascii: str.isdigit() also accepts digits like "²" that int() refuses.
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 12:
        raise InvalidAnswer(f"The {what} must be a whole number, like 1000.")
    return int(cleaned)


def _lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def validate(spec: FieldSpec, text: str, service: Service, today: date | None = None) -> object:
    """Check one answer and return the value to store; raise InvalidAnswer to ask again."""
    text = text.strip()
    if not text:
        raise InvalidAnswer(f"Please send the {spec.label}.")
    if len(text) > _MAX_TEXT:
        raise InvalidAnswer(f"That is too long: at most {_MAX_TEXT} characters.")
    kind = spec.kind
    if kind == "link":
        if not (_URL.match(text) or _USERNAME.match(text)) or " " in text:
            raise InvalidAnswer(
                "That does not look like a link. Send a URL such as "
                "https://instagram.com/p/abc or a username such as @name."
            )
        return text
    if kind == "url":
        if not _URL.match(text):
            raise InvalidAnswer("That does not look like a URL, e.g. https://example.com/page.")
        return text
    if kind == "username":
        if not _USERNAME.match(text):
            raise InvalidAnswer(
                "That does not look like a username: letters, digits, '.', '_', optionally "
                "starting with @."
            )
        return text
    if kind == "quantity":
        number = _whole_number(text, spec.label)
        if number < service.min or number > service.max:
            raise InvalidAnswer(
                f"The {spec.label} must be between {service.min} and {service.max}; "
                f"you sent {number}."
            )
        return number
    if kind == "count":
        number = _whole_number(text, spec.label)
        if number < 1:
            raise InvalidAnswer(f"The {spec.label} must be a positive whole number.")
        return number
    if kind == "lines":
        items = _lines_of(text)
        if not items:
            raise InvalidAnswer(f"Please send the {spec.label}, one per line.")
        return items
    if kind == "choice":
        allowed = {value for value, _ in spec.choices}
        value = text.split()[0]
        if value not in allowed:
            listed = ", ".join(
                f"{value} ({label})" if value != label else value for value, label in spec.choices
            )
            raise InvalidAnswer(f"The {spec.label} must be one of: {listed}.")
        return value
    if kind == "date":
        try:
            when = datetime.strptime(text, "%d/%m/%Y").date()
        except ValueError:
            raise InvalidAnswer(
                "The date must be a real date written d/m/Y, e.g. 31/12/2027."
            ) from None
        if when <= (today or date.today()):
            raise InvalidAnswer("The expiry date must be in the future.")
        return when.strftime("%d/%m/%Y")
    return text


def check_complete(service: Service, answers: Answers) -> None:
    """Cross-field checks once every field is in (list lengths against min/max, min <= max)."""
    key = type_key(service.type)
    list_field = QUANTITY_FROM_LINES.get(key)
    if list_field is not None:
        items = answers.get(list_field)
        count = len(items) if isinstance(items, list) else 0
        if count < service.min or count > service.max:
            raise InvalidAnswer(
                f"This service takes between {service.min} and {service.max} {list_field} "
                f"(one per line); you sent {count}."
            )
    if key == "subscriptions":
        low, high = answers.get("min"), answers.get("max")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            raise InvalidAnswer("The minimum per post cannot be more than the maximum.")


def quantity_of(service: Service, answers: Answers) -> int | None:
    """The quantity the order is for (typed, or counted from the list), if it has one."""
    key = type_key(service.type)
    list_field = QUANTITY_FROM_LINES.get(key)
    if list_field is not None:
        items = answers.get(list_field)
        return len(items) if isinstance(items, list) else None
    quantity = answers.get("quantity")
    return quantity if isinstance(quantity, int) else None


def add_fields(service: Service, answers: Answers) -> dict[str, str | int | list[str]]:
    """The `add` request fields (without `service`), in the panel's names."""
    fields: dict[str, str | int | list[str]] = {}
    for spec in fields_for(service):
        value = answers.get(spec.name)
        if value is None or value == "":
            continue
        if isinstance(value, list):
            fields[spec.name] = [str(item) for item in value]
        elif isinstance(value, int):
            fields[spec.name] = value
        else:
            fields[spec.name] = str(value)
    return fields


def describe_answer(spec: FieldSpec, value: object) -> str:
    """How an answer is shown on the confirmation."""
    if isinstance(value, list):
        shown = ", ".join(str(item) for item in value[:3])
        more = "…" if len(value) > 3 else ""
        return f"{len(value)} ({shown}{more})"
    for choice, label in spec.choices:
        if choice == value and choice != label:
            return f"{choice} ({label})"
    return str(value)


def order_cost(service: Service, answers: Answers) -> Decimal | None:
    """The expected charge: rate x quantity / 1000 (x runs for drip-feed); a package's rate."""
    key = type_key(service.type)
    if key in PRICED_PER_PACKAGE:
        return service.rate
    if key == "subscriptions":
        # Panels reserve `max` per post for `posts` posts (one post when unlimited).
        posts, high = answers.get("posts"), answers.get("max")
        if not isinstance(high, int):
            return None
        return service.rate * high * (posts if isinstance(posts, int) and posts > 0 else 1) / 1000
    quantity = quantity_of(service, answers)
    if quantity is None:
        return None
    runs = answers.get("runs")
    repeat = runs if isinstance(runs, int) and runs > 0 else 1
    return service.rate * quantity * repeat / 1000
