"""services: browse categories and services page by page, or search by id or words."""

from __future__ import annotations

from bot.core.actions import CategoriesPage, CategoryServices, OrderService, SearchPage
from bot.core.catalog import Catalog
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.formatting import service_line, shorten
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, Reply
from bot.panel.models import Service

CATEGORIES_PER_PAGE = 8
SERVICES_PER_PAGE = 6
# Discord allows 5 buttons a row and 5 rows; Telegram shows long rows cramped.
CATEGORY_COLUMNS = 2
ORDER_COLUMNS = 3


async def load_catalog(ctx: Context) -> Catalog:
    """The active key's catalogue (cached for minutes, as polite panel clients do)."""
    active = await ctx.active_key()
    return await ctx.res.catalog.get(active.panel_url, active.credential.id, active.key)


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _rows(buttons: list[Button], columns: int) -> list[tuple[Button, ...]]:
    return [tuple(buttons[start : start + columns]) for start in range(0, len(buttons), columns)]


async def _nav(
    ctx: Context, page: int, pages: int, make: type, *args: object, back: Button | None = None
) -> tuple[Button, ...]:
    owner = ctx.inv.user_id
    row: list[Button] = []
    if page > 0:
        row.append(await ctx.button("◀ Prev", make(owner, *args, page - 1)))
    if back is not None:
        row.append(back)
    if page + 1 < pages:
        row.append(await ctx.button("Next ▶", make(owner, *args, page + 1)))
    return tuple(row)


async def categories_reply(ctx: Context, page: int) -> Reply:
    """One page of the category list."""
    catalog = await load_catalog(ctx)
    if not catalog.categories:
        return Reply("The panel lists no services.", private=True)
    pages = _pages(len(catalog.categories), CATEGORIES_PER_PAGE)
    page = min(max(page, 0), pages - 1)
    start = page * CATEGORIES_PER_PAGE
    shown = catalog.categories[start : start + CATEGORIES_PER_PAGE]
    buttons = []
    for offset, name in enumerate(shown):
        count = len(catalog.by_category[name])
        action = CategoryServices(ctx.inv.user_id, start + offset, 0)
        buttons.append(await ctx.button(f"{shorten(name, 28)} ({count})", action))
    rows = _rows(buttons, CATEGORY_COLUMNS)
    nav = await _nav(ctx, page, pages, CategoriesPage)
    if nav:
        rows.append(nav)
    text = (
        f"Categories (page {page + 1}/{pages}, {len(catalog.services)} services).\n"
        "Pick one, or search: /services instagram likes"
    )
    return Reply(text, buttons=tuple(rows), private=True, edit=ctx.inv.kind == "action")


async def services_page_reply(
    ctx: Context,
    title: str,
    services: list[Service],
    page: int,
    make: type,
    *args: object,
    back: Button | None = None,
) -> Reply:
    """One page of a list of services, with an order button for each."""
    pages = _pages(len(services), SERVICES_PER_PAGE)
    page = min(max(page, 0), pages - 1)
    shown = services[page * SERVICES_PER_PAGE : (page + 1) * SERVICES_PER_PAGE]
    lines = [f"{title} — page {page + 1}/{pages}", ""]
    lines.extend(service_line(service) for service in shown)
    owner = ctx.inv.user_id
    buttons = [
        await ctx.button(f"Order #{service.service_id}", OrderService(owner, service.service_id))
        for service in shown
    ]
    rows = _rows(buttons, ORDER_COLUMNS)
    nav = await _nav(ctx, page, pages, make, *args, back=back)
    if nav:
        rows.append(nav)
    return Reply("\n".join(lines), buttons=tuple(rows), private=True, edit=ctx.inv.kind == "action")


def matches_title(count: int, query: str) -> str:
    """The heading of search results: "1 service matches …" / "12 services match …"."""
    noun = "service matches" if count == 1 else "services match"
    return f"{count} {noun} “{shorten(query, 60)}”"


@registry.command(
    "services",
    "browse or search the panel's services",
    CommandOption("search", "service id or words in its name or category"),
)
async def services(ctx: Context, args: str) -> Reply:
    """Browse categories, or search by id or words."""
    query = args.strip()
    if not query:
        return await categories_reply(ctx, 0)
    catalog = await load_catalog(ctx)
    found = catalog.search(query)
    if not found:
        raise UserError(
            f"No service matches “{shorten(query, 60)}”. Try fewer words, or /services to browse."
        )
    ref = await ctx.stash({"query": query})
    return await services_page_reply(
        ctx, matches_title(len(found), query), found, 0, SearchPage, ref
    )


@registry.action(CategoriesPage)
async def categories_page(ctx: Context, action: CategoriesPage) -> Reply:
    """Page through the categories."""
    return await categories_reply(ctx, action.page)


@registry.action(CategoryServices)
async def category_services(ctx: Context, action: CategoryServices) -> Reply:
    """Page through one category's services."""
    catalog = await load_catalog(ctx)
    if not 0 <= action.category < len(catalog.categories):
        raise UserError("The service list changed. Send /services again.")
    name = catalog.categories[action.category]
    back_page = action.category // CATEGORIES_PER_PAGE
    back = await ctx.button("▲ Categories", CategoriesPage(ctx.inv.user_id, back_page))
    return await services_page_reply(
        ctx,
        name,
        catalog.by_category[name],
        action.page,
        CategoryServices,
        action.category,
        back=back,
    )


@registry.action(SearchPage)
async def search_page(ctx: Context, action: SearchPage) -> Reply:
    """Page through search results."""
    stored = await ctx.unstash(action.ref)
    query = stored.get("query") if stored else None
    if not isinstance(query, str):
        raise UserError("This search has expired. Send /services again.")
    catalog = await load_catalog(ctx)
    found = catalog.search(query)
    return await services_page_reply(
        ctx,
        matches_title(len(found), query),
        found,
        action.page,
        SearchPage,
        action.ref,
    )
