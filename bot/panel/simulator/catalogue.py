"""The simulator's service catalogue: a pure function of (seed, count), with finder helpers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

# Every service type of the API v2 reference table; a catalogue of 17+ services covers all of them.
SERVICE_TYPES: tuple[str, ...] = (
    "Default",
    "Package",
    "SEO",
    "Custom Comments",
    "Custom Comments Package",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Comment Likes",
    "Comment Replies",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
    "Web Traffic",
)

# Types whose `rate` is the price of one package rather than of 1000 units.
PACKAGE_TYPES = frozenset({"Package", "Custom Comments Package"})

# Names real panels use, including the characters that break naive Markdown/HTML rendering; each
# goes to the first Default service of its category.
SPECIAL_NAMES: dict[str, str] = {
    "Instagram Followers": "Followers 🇺🇸 USA *Premium* [Max 100K]",
    "Instagram Likes": "Likes <Real> & Fast *HQ* _no drop_ 🔥",
    "Instagram Views": "Views & Reach <Instant> 🚀",
    "Telegram Members": "Members_[Cheap]_No_Refill",
    "Spotify Plays": "Plays <Royalty> & Chart *Boost* ⭐",
}


@dataclass(frozen=True, slots=True)
class _CategorySpec:
    name: str
    # (type, weight) pairs for the services of this category after its mandatory ones.
    types: tuple[tuple[str, int], ...]
    rate_low: str
    rate_high: str


_CATEGORIES: tuple[_CategorySpec, ...] = (
    _CategorySpec("Instagram Followers", (("Default", 1),), "0.40", "9.00"),
    _CategorySpec("Instagram Likes", (("Default", 5), ("Package", 1)), "0.05", "3.00"),
    _CategorySpec("Instagram Views", (("Default", 1),), "0.01", "0.80"),
    _CategorySpec("Instagram Story Views", (("Default", 1),), "0.02", "1.20"),
    _CategorySpec(
        "Instagram Comments",
        (
            ("Custom Comments", 4),
            ("Custom Comments Package", 2),
            ("Comment Likes", 2),
            ("Comment Replies", 1),
        ),
        "2.00",
        "40.00",
    ),
    _CategorySpec(
        "Instagram Mentions",
        (
            ("Mentions", 2),
            ("Mentions with Hashtags", 1),
            ("Mentions Custom List", 1),
            ("Mentions Hashtag", 1),
            ("Mentions User Followers", 1),
            ("Mentions Media Likers", 1),
        ),
        "1.00",
        "12.00",
    ),
    _CategorySpec("Instagram Auto Likes", (("Subscriptions", 1),), "0.10", "4.00"),
    _CategorySpec("Telegram Members", (("Default", 3), ("Invites from Groups", 1)), "0.50", "8.00"),
    _CategorySpec("Telegram Post Views", (("Default", 3), ("Subscriptions", 1)), "0.01", "0.50"),
    _CategorySpec("Telegram Reactions", (("Default", 1),), "0.05", "1.50"),
    _CategorySpec("Telegram Polls", (("Poll", 1),), "0.30", "5.00"),
    _CategorySpec("YouTube Views", (("Default", 1),), "0.60", "6.00"),
    _CategorySpec("YouTube Subscribers", (("Default", 1),), "8.00", "60.00"),
    _CategorySpec("YouTube Likes", (("Default", 1),), "0.80", "9.00"),
    _CategorySpec(
        "YouTube Comments", (("Custom Comments", 2), ("Comment Likes", 1)), "5.00", "35.00"
    ),
    _CategorySpec("TikTok Likes", (("Default", 1),), "0.10", "3.00"),
    _CategorySpec("TikTok Followers", (("Default", 1),), "0.90", "12.00"),
    _CategorySpec("TikTok Views", (("Default", 1),), "0.005", "0.20"),
    _CategorySpec("Twitter/X Followers", (("Default", 1),), "1.50", "25.00"),
    _CategorySpec("Twitter/X Retweets", (("Default", 1),), "0.90", "10.00"),
    _CategorySpec("Twitter/X Poll Votes", (("Poll", 1),), "0.50", "6.00"),
    _CategorySpec("Facebook Page Likes", (("Default", 1),), "1.20", "15.00"),
    _CategorySpec("Facebook Post Likes", (("Default", 3), ("Package", 1)), "0.50", "6.00"),
    _CategorySpec("Spotify Plays", (("Default", 1),), "0.40", "3.50"),
    _CategorySpec("Discord Members", (("Default", 2), ("Invites from Groups", 1)), "2.00", "30.00"),
    _CategorySpec("Website Traffic", (("Web Traffic", 1),), "0.05", "2.00"),
    _CategorySpec("SEO & Backlinks", (("SEO", 1),), "1.00", "30.00"),
    _CategorySpec("Twitch Followers", (("Default", 1),), "0.70", "8.00"),
    _CategorySpec("LinkedIn Connections", (("Default", 1),), "10.00", "90.00"),
    _CategorySpec("Threads Followers", (("Default", 1),), "0.80", "9.00"),
    _CategorySpec("Reddit Upvotes", (("Default", 1),), "1.00", "14.00"),
)

# The category that first receives a service of each type, so every type is present.
_HOME_CATEGORY: dict[str, str] = {
    "Default": "Instagram Followers",
    "Package": "Instagram Likes",
    "SEO": "SEO & Backlinks",
    "Custom Comments": "Instagram Comments",
    "Custom Comments Package": "Instagram Comments",
    "Mentions": "Instagram Mentions",
    "Mentions with Hashtags": "Instagram Mentions",
    "Mentions Custom List": "Instagram Mentions",
    "Mentions Hashtag": "Instagram Mentions",
    "Mentions User Followers": "Instagram Mentions",
    "Mentions Media Likers": "Instagram Mentions",
    "Comment Likes": "Instagram Comments",
    "Comment Replies": "Instagram Comments",
    "Poll": "Telegram Polls",
    "Invites from Groups": "Telegram Members",
    "Subscriptions": "Instagram Auto Likes",
    "Web Traffic": "Website Traffic",
}

_QUALITY = ("[HQ]", "[Real]", "[Mixed]", "[Bots]", "[Premium]", "[Non Drop]", "[Cheapest]", "")
_SPEED = ("[Instant]", "[1K/Day]", "[10K/Day]", "[50K/Day]", "[Fast]", "[Slow]", "")
_MIN_CHOICES = (10, 20, 50, 100, 100, 250, 500, 1000)
_MAX_FACTORS = (10, 50, 100, 200, 500, 1000)


@dataclass(frozen=True, slots=True)
class SimService:
    """One service of the simulated panel, as its `services` answer describes it."""

    id: int
    name: str
    type: str
    category: str
    rate: Decimal
    # The rate exactly as the panel writes it ("0.90", "12.5", "3"): clients must parse any form.
    rate_text: str
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    desc: str | None = None

    @property
    def is_package(self) -> bool:
        """True when `rate` is the price of one package, not of 1000 units."""
        return self.type in PACKAGE_TYPES


class Catalogue:
    """The services of one simulated panel (ids 1..N), with finders for tests."""

    __slots__ = ("_by_id", "count", "seed", "services")

    def __init__(self, services: list[SimService], *, seed: int, count: int) -> None:
        self.services: tuple[SimService, ...] = tuple(services)
        self._by_id = {service.id: service for service in services}
        self.seed = seed
        self.count = count

    def __len__(self) -> int:
        return len(self.services)

    def __iter__(self) -> Iterator[SimService]:
        return iter(self.services)

    def __getitem__(self, service_id: int) -> SimService:
        return self._by_id[service_id]

    def __repr__(self) -> str:
        return f"Catalogue(seed={self.seed}, services={len(self.services)})"

    def get(self, service_id: int) -> SimService | None:
        """The service with this id, or None."""
        return self._by_id.get(service_id)

    def categories(self) -> list[str]:
        """The category names in listing order."""
        return list(dict.fromkeys(service.category for service in self.services))

    def types(self) -> set[str]:
        """The service types present in the catalogue."""
        return {service.type for service in self.services}

    def all_matching(
        self,
        *,
        type: str | None = None,
        refill: bool | None = None,
        cancel: bool | None = None,
        dripfeed: bool | None = None,
        category: str | None = None,
        predicate: Callable[[SimService], bool] | None = None,
    ) -> list[SimService]:
        """Every service matching all the given criteria (None means "any")."""
        return [
            service
            for service in self.services
            if (type is None or service.type == type)
            and (refill is None or service.refill == refill)
            and (cancel is None or service.cancel == cancel)
            and (dripfeed is None or service.dripfeed == dripfeed)
            and (category is None or service.category == category)
            and (predicate is None or predicate(service))
        ]

    def first_matching(
        self,
        *,
        type: str | None = None,
        refill: bool | None = None,
        cancel: bool | None = None,
        dripfeed: bool | None = None,
        category: str | None = None,
        predicate: Callable[[SimService], bool] | None = None,
    ) -> SimService:
        """The lowest-id service matching all the criteria; LookupError when there is none."""
        found = self.all_matching(
            type=type,
            refill=refill,
            cancel=cancel,
            dripfeed=dripfeed,
            category=category,
            predicate=predicate,
        )
        if not found:
            raise LookupError(
                f"no service with type={type} refill={refill} cancel={cancel} "
                f"dripfeed={dripfeed} category={category}"
            )
        return found[0]

    def first_of_type(self, type: str) -> SimService:
        """The lowest-id service of this type; LookupError when there is none."""
        return self.first_matching(type=type)


def _category_names(total: int) -> list[tuple[str, _CategorySpec]]:
    names: list[tuple[str, _CategorySpec]] = []
    for index in range(total):
        spec = _CATEGORIES[index % len(_CATEGORIES)]
        server = index // len(_CATEGORIES)
        name = spec.name if server == 0 else f"{spec.name} [Server {server + 1}]"
        names.append((name, spec))
    return names


def _plan(rng: random.Random, count: int) -> list[tuple[str, _CategorySpec, str]]:
    """Decide (category, spec, type) for each service, grouped by category in listing order."""
    # Roughly ten services per category, as on real panels; never fewer than the base list.
    total_categories = max(len(_CATEGORIES), count // 10)
    categories = _category_names(total_categories)
    slots: dict[int, list[str]] = {index: [] for index in range(total_categories)}
    index_of = {spec.name: index for index, spec in enumerate(_CATEGORIES)}
    mandatory = list(SERVICE_TYPES)[:count]
    for type_ in mandatory:
        slots[index_of[_HOME_CATEGORY[type_]]].append(type_)
    for position in range(count - len(mandatory)):
        index = position % total_categories
        spec = categories[index][1]
        kinds = [kind for kind, _ in spec.types]
        weights = [weight for _, weight in spec.types]
        slots[index].append(rng.choices(kinds, weights)[0])
    plan: list[tuple[str, _CategorySpec, str]] = []
    for index, (name, spec) in enumerate(categories):
        plan.extend((name, spec, type_) for type_ in slots[index])
    return plan


def _rate_text(rng: random.Random, low: Decimal, high: Decimal) -> str:
    cents = rng.randint(int(low * 1000), int(high * 1000))
    value = Decimal(cents) / 1000
    style = rng.random()
    if value >= 1 and style < 0.15:
        return str(value.quantize(Decimal(1)))  # "3"
    if style < 0.45:
        text = f"{value:.2f}"
        return text.rstrip("0").rstrip(".") if style < 0.3 and "." in text else text  # "12.5"
    return f"{value:.2f}" if value >= Decimal("0.01") else f"{value:.4f}"  # "0.90", "0.0050"


def _limits(rng: random.Random, type_: str) -> tuple[int, int]:
    if type_ in PACKAGE_TYPES:
        return 1, 1
    if type_ in ("Custom Comments", "Comment Replies", "Mentions Custom List"):
        # Quantity is the number of lines the user types, so the minimum stays small.
        return rng.choice((1, 1, 5, 10)), rng.choice((100, 500, 1000))
    low = rng.choice(_MIN_CHOICES)
    return low, low * rng.choice(_MAX_FACTORS)


def _name(rng: random.Random, category: str, type_: str, refill: bool, low: int, high: int) -> str:
    product = category.split(" [Server")[0].split(" ", 1)[-1]
    parts = [product if type_ == "Default" else f"{product} {type_}"]
    parts.append(rng.choice(_QUALITY))
    if type_ in PACKAGE_TYPES:
        parts.append(f"[{rng.choice((100, 250, 500, 1000))} per package]")
    else:
        parts.append(f"[Max {high // 1000}K]" if high >= 1000 else f"[Max {high}]")
    parts.append(rng.choice(_SPEED))
    parts.append(f"[{rng.choice((15, 30, 60, 365))} Days Refill] ♻️" if refill else "[No Refill]")
    return " ".join(part for part in parts if part)


def build_catalogue(seed: int = 1, count: int = 300) -> Catalogue:
    """Build the catalogue: the same (seed, count) always gives the same services."""
    if count < 1:
        raise ValueError("a catalogue needs at least one service")
    rng = random.Random(seed)
    services: list[SimService] = []
    specials = dict(SPECIAL_NAMES)
    for service_id, (category, spec, type_) in enumerate(_plan(rng, count), start=1):
        low, high = _limits(rng, type_)
        rate_low, rate_high = Decimal(spec.rate_low), Decimal(spec.rate_high)
        if type_ in PACKAGE_TYPES:
            rate_low, rate_high = rate_low * 20 + 1, rate_high * 20 + 1
        text = _rate_text(rng, rate_low, rate_high)
        is_package = type_ in PACKAGE_TYPES
        refill = rng.random() < (0.15 if is_package else 0.45)
        cancel = rng.random() < 0.4
        dripfeed = type_ in ("Default", "Web Traffic") and rng.random() < 0.35
        name = _name(rng, category, type_, refill, low, high)
        if type_ == "Default" and category in specials:
            name = specials.pop(category)
        desc = None
        if service_id % 4 == 0:
            speed = rng.choice(("1K/day", "10K/day", "50K/day", "gradual"))
            desc = (
                f"Start: 0-{rng.choice((1, 6, 24))}h\nSpeed: {speed}\nLink: public profile or post"
            )
        services.append(
            SimService(
                id=service_id,
                name=name,
                type=type_,
                category=category,
                rate=Decimal(text),
                rate_text=text,
                min=low,
                max=high,
                refill=refill,
                cancel=cancel,
                dripfeed=dripfeed,
                desc=desc,
            )
        )
    return Catalogue(services, seed=seed, count=count)
