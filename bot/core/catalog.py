"""The panel's service catalogue, cached per credential, with categories and word search."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.panel.client import PanelClient
from bot.panel.models import Service

# Panels publish no rate limits; polite clients cache `services` for minutes.
CATALOG_TTL_SECONDS = 300.0


@dataclass(slots=True)
class Catalog:
    """One panel's services, indexed for browsing and search."""

    services: list[Service]
    fetched_at: float
    by_id: dict[str, Service] = field(init=False)
    categories: list[str] = field(init=False)
    by_category: dict[str, list[Service]] = field(init=False)
    _haystacks: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {service.service_id: service for service in self.services}
        self.by_category = {}
        for service in self.services:
            self.by_category.setdefault(service.category or "Other", []).append(service)
        self.categories = sorted(self.by_category, key=str.casefold)
        self._haystacks = [
            f"{service.name}\n{service.category}".casefold() for service in self.services
        ]

    def search(self, query: str, limit: int | None = None) -> list[Service]:
        """Services matching an id exactly, or containing all the words (any case)."""
        query = query.strip()
        exact = self.by_id.get(query.lstrip("#"))
        if exact is not None:
            return [exact]
        words = sorted(set(query.casefold().split()), key=len, reverse=True)
        if not words:
            return []
        # One flat list comprehension per word, longest (usually rarest) word first: much faster
        # than a per-service `all(...)` generator over 10,000 services.
        first = words[0]
        haystacks = self._haystacks
        hits = [index for index, haystack in enumerate(haystacks) if first in haystack]
        for word in words[1:]:
            hits = [index for index in hits if word in haystacks[index]]
        if limit is not None:
            hits = hits[:limit]
        services = self.services
        return [services[index] for index in hits]


class CatalogCache:
    """Fetches each credential's catalogue at most once per TTL, one fetch at a time per key."""

    def __init__(
        self,
        panel: PanelClient,
        ttl: float = CATALOG_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._panel = panel
        self._ttl = ttl
        self._clock = clock
        self._catalogs: dict[tuple[str, int], Catalog] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    def cached(self, panel_url: str, credential_id: int) -> Catalog | None:
        """The catalogue if it is in memory and fresh, without calling the panel."""
        catalog = self._catalogs.get((panel_url, credential_id))
        if catalog is None or self._clock() - catalog.fetched_at > self._ttl:
            return None
        return catalog

    async def get(self, panel_url: str, credential_id: int, key: str) -> Catalog:
        """The catalogue, fetched from the panel when missing or stale."""
        cache_key = (panel_url, credential_id)
        catalog = self.cached(panel_url, credential_id)
        if catalog is not None:
            return catalog
        lock = self._locks.setdefault(cache_key, asyncio.Lock())
        async with lock:
            catalog = self.cached(panel_url, credential_id)
            if catalog is None:
                services = await self._panel.services(panel_url, key)
                catalog = Catalog(services, self._clock())
                self._catalogs[cache_key] = catalog
            return catalog

    def forget(self, credential_id: int) -> None:
        """Drop a credential's catalogue (its key changed or was removed)."""
        for cache_key in [item for item in self._catalogs if item[1] == credential_id]:
            del self._catalogs[cache_key]
            self._locks.pop(cache_key, None)
