"""Status alerts: the poller that watches orders, refills and balances, and the outbox delivery.

`AlertService` (bot.alerts.service) is what the entry point runs beside the chat adapters.
"""

from bot.alerts.service import AlertService, CycleStats

__all__ = ["AlertService", "CycleStats"]
