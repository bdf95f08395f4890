"""Plain-text pieces shared by replies and alerts: money, progress bars, service and order lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bot.core.order_fields import PRICED_PER_PACKAGE, type_key
from bot.panel.models import OrderStatus, Service

BAR_WIDTH = 10
_FIVE_PLACES = Decimal("0.00001")


def money(amount: Decimal | None, currency: str = "") -> str:
    """Show money with at least two and at most five decimals: 0.9 -> 0.90, 1.234567 -> 1.23457."""
    if amount is None:
        return "?"
    rounded = amount.quantize(_FIVE_PLACES, rounding=ROUND_HALF_UP).normalize()
    exponent = rounded.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        rounded = rounded.quantize(Decimal("0.01"))
    text = f"{rounded:,f}"
    return f"{text} {currency}".strip()


def progress(quantity: int | None, remains: int | None, status: OrderStatus) -> str:
    """A text progress bar from quantity and remains, e.g. `[██████░░░░] 60%`."""
    if status is OrderStatus.COMPLETED:
        share = 1.0
    elif not quantity or remains is None or status is OrderStatus.PENDING:
        # A fresh Pending order may report remains 0 (a panel quirk): that is not "done".
        share = 0.0
    else:
        share = min(max((quantity - remains) / quantity, 0.0), 1.0)
    filled = round(share * BAR_WIDTH)
    return f"[{'█' * filled}{'░' * (BAR_WIDTH - filled)}] {round(share * 100)}%"


def rate_unit(service: Service) -> str:
    """What the rate is the price of: one package, or 1000 units."""
    return "per package" if type_key(service.type) in PRICED_PER_PACKAGE else "per 1000"


def yes_no(flag: bool) -> str:
    """A flag as a short word."""
    return "yes" if flag else "no"


def service_line(service: Service, currency: str = "") -> str:
    """One service as listed in browse and search results."""
    flags = []
    if service.refill:
        flags.append("refill")
    if service.cancel:
        flags.append("cancel")
    if service.dripfeed:
        flags.append("drip-feed")
    flag_text = f" · {', '.join(flags)}" if flags else ""
    return (
        f"#{service.service_id} {service.name}\n"
        f"   {money(service.rate, currency)} {rate_unit(service)} · {service.min}-{service.max} · "
        f"{service.type}{flag_text}"
    )


def service_details(service: Service, currency: str = "") -> str:
    """A service in full, as shown when it is picked for an order."""
    lines = [
        f"#{service.service_id} {service.name}",
        f"Category: {service.category}",
        f"Type: {service.type}",
        f"Rate: {money(service.rate, currency)} {rate_unit(service)}",
        f"Min-max: {service.min}-{service.max}",
        f"Refill: {yes_no(service.refill)} · Cancel: {yes_no(service.cancel)}",
    ]
    if service.description:
        lines.append(service.description[:500])
    return "\n".join(lines)


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with an ellipsis (for button labels)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
