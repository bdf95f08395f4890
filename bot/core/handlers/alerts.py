"""alerts: status alerts on or off, and the low-balance threshold."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.formatting import money
from bot.core.registry import registry
from bot.core.seam import CommandOption, Reply
from storage import outbox, users

USAGE = "Use /alerts on, /alerts off, /alerts balance 5.00, or /alerts balance off."


def alerts_text(enabled: bool, threshold: Decimal | None) -> str:
    """The user's alert settings."""
    lines = [f"Status alerts: {'on' if enabled else 'off'}"]
    if threshold is None:
        lines.append("Low-balance alert: off")
    else:
        lines.append(f"Low-balance alert: below {money(threshold)}")
    lines.append(USAGE)
    return "\n".join(lines)


@registry.command(
    "alerts",
    "status alerts on/off, low-balance threshold",
    CommandOption("setting", "on, off, or balance <amount>"),
    private_only=True,
)
async def alerts(ctx: Context, args: str) -> Reply:
    """Show or change the alert settings."""
    words = args.lower().split()
    user = ctx.user
    threshold = user.low_balance_threshold
    enabled = bool(user.alerts_enabled)
    if not words:
        return Reply(alerts_text(enabled, threshold), private=True)
    if words == ["on"] or words == ["off"]:
        enabled = words[0] == "on"
        await users.set_alerts_enabled(ctx.db, user.id, enabled)
        if not enabled:
            await outbox.drop_user_messages(ctx.db, user.id)
        return Reply(alerts_text(enabled, threshold), private=True)
    if words[0] == "balance" and len(words) == 2:
        if words[1] in ("off", "none", "0"):
            await users.set_low_balance_threshold(ctx.db, user.id, None)
            return Reply(alerts_text(enabled, None), private=True)
        text = words[1]
        # "1,5" is a decimal comma; "1,000" a thousands separator.
        text = (
            text.replace(",", ".") if re.fullmatch(r"\d+,\d{1,2}", text) else text.replace(",", "")
        )
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise UserError(f"“{words[1][:20]}” is not an amount. {USAGE}") from None
        if not amount.is_finite() or amount <= 0 or amount > Decimal("1e12"):
            raise UserError(f"The threshold must be a positive amount. {USAGE}")
        # Setting a threshold also re-arms the alert.
        await users.set_low_balance_threshold(ctx.db, user.id, amount)
        return Reply(alerts_text(enabled, amount), private=True)
    raise UserError(USAGE)
