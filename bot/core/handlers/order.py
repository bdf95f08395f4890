"""order: the wizard, driven by the service type's fields, ending in an at-most-once placement."""

from __future__ import annotations

import contextlib
import logging
import secrets as random_tokens
from decimal import Decimal

from bot.core import order_fields as forms
from bot.core.actions import (
    OrderService,
    StatusRefresh,
    WizardAbort,
    WizardCancel,
    WizardChoice,
    WizardConfirm,
)
from bot.core.context import ActiveKey, Context
from bot.core.errors import UserError
from bot.core.formatting import money, service_details, service_line, shorten
from bot.core.handlers.services import load_catalog
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, Prompt, Reply
from bot.panel.errors import InvalidApiKey, PanelError, PanelRefused, PanelUnavailable
from bot.panel.models import Service
from storage import credentials, orders
from storage.orders import OrderRow

log = logging.getLogger(__name__)

# Buttons offered for Subscriptions' delay; any allowed value can also be typed.
DELAY_BUTTONS = ("0", "30", "60", "120", "360", "600")
SEARCH_RESULTS_SHOWN = 6


def new_form(
    ctx: Context,
    active: ActiveKey,
    service: Service | None = None,
    answers: dict[str, object] | None = None,
) -> dict[str, object]:
    """A fresh order form in this chat, for this key (and service, once picked).

    Its random `form` id lets a slow step tell that a newer form replaced it meanwhile.
    """
    state: dict[str, object] = {
        "kind": "wizard",
        "form": random_tokens.token_urlsafe(6),
        "chat": ctx.inv.chat_id,
        "panel_url": active.panel_url,
        "credential_id": active.credential.id,
        "answers": answers or {},
    }
    if service is not None:
        state["service"] = service_to_state(service)
    return state


def service_to_state(service: Service) -> dict[str, object]:
    """A service snapshot that survives a restart inside the stored conversation."""
    return {
        "service_id": service.service_id,
        "name": service.name,
        "type": service.type,
        "category": service.category,
        "rate": str(service.rate),
        "min": service.min,
        "max": service.max,
        "refill": service.refill,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed,
    }


def service_from_state(data: object) -> Service:
    """Rebuild the service snapshot stored by `service_to_state`."""
    if not isinstance(data, dict):
        raise UserError("This order form is broken; start again with /order.")
    return Service(
        service_id=str(data["service_id"]),
        name=str(data["name"]),
        type=str(data["type"]),
        category=str(data.get("category", "")),
        rate=Decimal(str(data["rate"])),
        min=int(data["min"]),
        max=int(data["max"]),
        refill=bool(data["refill"]),
        cancel=bool(data["cancel"]),
        dripfeed=bool(data["dripfeed"]),
        description="",
    )


async def wizard_state(ctx: Context) -> dict[str, object] | None:
    """The open order form of this user, if any."""
    state = await ctx.conversation()
    if state is None or state.get("kind") != "wizard":
        return None
    return state


def _answers(state: dict[str, object]) -> dict[str, object]:
    answers = state.get("answers")
    return answers if isinstance(answers, dict) else {}


async def _abort_button(ctx: Context) -> Button:
    return await ctx.button("✖ Abort", WizardAbort(ctx.inv.user_id), "danger")


async def step_reply(ctx: Context, state: dict[str, object], problem: str = "") -> Reply:
    """Ask for the next field, or show the confirmation when the form is complete."""
    service = service_from_state(state["service"])
    answers = _answers(state)
    spec = forms.next_field(service, answers)
    if spec is None:
        return await confirmation_reply(ctx, state)
    owner = ctx.inv.user_id
    fields = [item for item in forms.fields_for(service) if item.when is None or item.when(answers)]
    number = next((i for i, item in enumerate(fields, 1) if item.name == spec.name), len(fields))
    lines = []
    if problem:
        lines += [f"⚠ {problem}", ""]
    if not answers and not problem:
        lines += [service_details(service), ""]
    what = f"Step {number}/{len(fields)}: send the {spec.label}"
    if spec.hint:
        what += f" ({spec.hint})"
    if spec.kind == "quantity":
        what += f", between {service.min} and {service.max}"
    if spec.kind == "choice":
        what += ": " + ", ".join(
            value if value == label else f"{value} = {label}" for value, label in spec.choices
        )
    lines.append(what + ".")
    if spec.optional:
        lines.append("This one is optional: press Skip to leave it out.")
    rows: list[tuple[Button, ...]] = []
    if spec.kind == "choice":
        values = DELAY_BUTTONS if spec.name == "delay" else tuple(v for v, _ in spec.choices)
        labels = dict(spec.choices)
        choice_buttons = [
            await ctx.button(
                value if labels.get(value, value) == value else f"{value} {labels[value]}",
                WizardChoice(owner, spec.name, value, service.service_id),
            )
            for value in values
        ]
        rows += [tuple(choice_buttons[i : i + 3]) for i in range(0, len(choice_buttons), 3)]
    last: list[Button] = []
    if spec.optional:
        skip = WizardChoice(owner, spec.name, "", service.service_id)
        last.append(await ctx.button("Skip", skip))
    last.append(await _abort_button(ctx))
    rows.append(tuple(last))
    prompt = Prompt(
        spec.name,
        shorten(spec.label.capitalize(), 45),
        multiline=spec.multiline,
        placeholder=spec.hint or spec.label,
    )
    return Reply(
        "\n".join(lines),
        buttons=tuple(rows),
        private=True,
        prompt=prompt,
        edit=ctx.inv.kind == "action" and not problem,
    )


async def start_wizard(ctx: Context, service: Service, active: ActiveKey) -> Reply:
    """Open a fresh order form for `service`."""
    state = new_form(ctx, active, service)
    await ctx.save_conversation(state)
    return await step_reply(ctx, state)


@registry.command(
    "order",
    "place an order step by step (or: service id, link, quantity)",
    CommandOption("service", "service id (or words to search)", kind="service"),
    CommandOption("link", "link to the page or post"),
    CommandOption("quantity", "how many", kind="integer"),
)
async def order(ctx: Context, args: str) -> Reply:
    """Start the wizard, pick a service by id, or take the one-line Default form."""
    active = await ctx.active_key()
    parts = args.split()
    if not parts:
        await ctx.save_conversation(new_form(ctx, active))
        return Reply(
            "Which service? Send its id (e.g. 12) or words to search (e.g. instagram likes). "
            "Or browse with /services and press Order.",
            buttons=((await _abort_button(ctx),),),
            private=True,
            prompt=Prompt("service", "Service id or search words"),
        )
    catalog = await load_catalog(ctx)
    service = catalog.by_id.get(parts[0].lstrip("#"))
    if service is None:
        if len(parts) == 1 or not parts[0].lstrip("#").isdigit():
            return await _pick_by_search(ctx, args.strip(), active)
        raise UserError(f"There is no service #{shorten(parts[0], 30)}. Find one with /services.")
    if len(parts) == 1:
        return await start_wizard(ctx, service, active)
    return await _one_line(ctx, service, parts[1:], active)


async def _one_line(ctx: Context, service: Service, rest: list[str], active: ActiveKey) -> Reply:
    """`order <id> <link> <quantity>` for services whose form is exactly link + quantity."""
    names = [spec.name for spec in forms.fields_for(service)]
    if names != ["link", "quantity"]:
        raise UserError(
            f"Service #{service.service_id} is of type {service.type}, which needs more than a "
            f"link and a quantity. Send /order {service.service_id} to fill in its form."
        )
    if len(rest) != 2:
        raise UserError(
            "Use: /order <service id> <link> <quantity>, e.g. /order 12 https://t.me/x 1000"
        )
    answers: dict[str, object] = {}
    for spec, text in zip(forms.fields_for(service), rest, strict=True):
        try:
            answers[spec.name] = forms.validate(spec, text, service)
        except forms.InvalidAnswer as problem:
            raise UserError(str(problem)) from None
    state = new_form(ctx, active, service, answers)
    # A new order replaces whatever question was open, as /order does.
    await ctx.save_conversation(state)
    return await confirmation_reply(ctx, state)


async def _pick_by_search(ctx: Context, query: str, active: ActiveKey) -> Reply:
    """Pick the service from a search: one hit starts the form, several are offered as buttons."""
    catalog = await load_catalog(ctx)
    found = catalog.search(query)
    if len(found) == 1:
        return await start_wizard(ctx, found[0], active)
    if not found:
        raise UserError(f"No service matches “{shorten(query, 60)}”. Send an id, or other words.")
    shown = found[:SEARCH_RESULTS_SHOWN]
    owner = ctx.inv.user_id
    buttons = [
        await ctx.button(f"#{service.service_id}", OrderService(owner, service.service_id))
        for service in shown
    ]
    lines = [f"{len(found)} services match; pick one (or send an id):", ""]
    lines += [service_line(service) for service in shown]
    if len(found) > len(shown):
        lines.append(f"… and {len(found) - len(shown)} more: add words to narrow it down.")
    rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
    rows.append((await _abort_button(ctx),))
    return Reply("\n".join(lines), buttons=tuple(rows), private=True)


@registry.action(OrderService)
async def order_service(ctx: Context, action: OrderService) -> Reply:
    """An Order button under a service."""
    active = await ctx.active_key()
    catalog = await load_catalog(ctx)
    service = catalog.by_id.get(action.service_id)
    if service is None:
        raise UserError("This service is no longer offered by the panel.")
    reply = await start_wizard(ctx, service, active)
    return Reply(reply.text, buttons=reply.buttons, private=True, prompt=reply.prompt, edit=False)


@registry.answer("wizard")
async def wizard_answer(ctx: Context, state: dict[str, object], text: str) -> Reply:
    """A typed answer to the current step of the order form."""
    if "service" not in state:
        active = await ctx.active_key()
        return await _pick_by_search(ctx, text.strip(), active)
    return await apply_answer(ctx, state, text)


async def apply_answer(ctx: Context, state: dict[str, object], text: str) -> Reply:
    """Validate one answer; store it and move on, or ask again saying what is wrong."""
    service = service_from_state(state["service"])
    answers = _answers(state)
    spec = forms.next_field(service, answers)
    if spec is None or state.get("token"):
        return Reply(
            "Your order is ready: press Confirm or Cancel above (or /abort).", private=True
        )
    if text == "" and spec.optional:
        value: object = None
    else:
        try:
            value = forms.validate(spec, text, service)
        except forms.InvalidAnswer as problem:
            return await step_reply(ctx, state, str(problem))
    low = answers.get("min")
    if spec.name == "max" and isinstance(value, int) and isinstance(low, int) and value < low:
        return await step_reply(
            ctx, state, f"The maximum cannot be less than the minimum ({low}); send it again."
        )
    answers[spec.name] = value
    state["answers"] = answers
    if forms.next_field(service, answers) is None:
        try:
            forms.check_complete(service, answers)
        except forms.InvalidAnswer as problem:
            # Ask the list again: its length is what does not fit.
            list_field = forms.QUANTITY_FROM_LINES.get(forms.type_key(service.type))
            if list_field:
                answers.pop(list_field, None)
            else:
                answers.pop(spec.name, None)
            await ctx.save_conversation(state)
            return await step_reply(ctx, state, str(problem))
    await ctx.save_conversation(state)
    return await step_reply(ctx, state)


@registry.action(WizardChoice)
async def wizard_choice(ctx: Context, action: WizardChoice) -> Reply:
    """A choice or Skip button on a step."""
    state = await wizard_state(ctx)
    if state is None or "service" not in state:
        raise UserError("This order form is no longer open. Start again with /order.")
    service = service_from_state(state["service"])
    if action.service and action.service != service.service_id:
        raise UserError("That button belongs to an earlier order form.")
    spec = forms.next_field(service, _answers(state))
    if spec is None or spec.name != action.step:
        raise UserError("That step is already answered.")
    return await apply_answer(ctx, state, action.value)


@registry.action(WizardAbort)
async def wizard_abort(ctx: Context, action: WizardAbort) -> Reply:
    """Leave the order form (a form whose Confirm is already placing says so instead)."""
    state = await wizard_state(ctx)
    token = state.get("token") if state else None
    if isinstance(token, str):
        existing = await orders.get_order_by_token(ctx.db, token, user_id=ctx.user.id)
        if existing is not None:
            return already_reply(existing)
    await ctx.clear_conversation()
    return Reply("Order form closed. Nothing was ordered.", private=True, edit=True)


@registry.action(WizardCancel)
async def wizard_cancel(ctx: Context, action: WizardCancel) -> Reply:
    """Drop the order on the confirmation screen, unless Confirm already got to it."""
    existing = await orders.get_order_by_token(ctx.db, action.token, user_id=ctx.user.id)
    if existing is not None:
        return already_reply(existing)
    state = await wizard_state(ctx)
    if state is not None and state.get("token") == action.token:
        await ctx.clear_conversation()
    return Reply("Cancelled. Nothing was ordered.", private=True, edit=True)


async def confirmation_reply(ctx: Context, state: dict[str, object], problem: str = "") -> Reply:
    """Every field, the cost, the balance, and Confirm / Cancel."""
    service = service_from_state(state["service"])
    answers = _answers(state)
    credential = await _credential_of(ctx, state)
    cost = forms.order_cost(service, answers)
    balance_text, short = "unknown (the panel did not answer)", False
    currency = ""
    try:
        balance = await ctx.panel.balance(credential.panel_url, credential.key)
        currency = balance.currency
        balance_text = money(balance.amount, balance.currency)
        short = cost is not None and balance.amount < cost
    except InvalidApiKey:
        raise
    except PanelError:
        pass
    # The balance call can take a while: if the user opened another form meanwhile, that one wins.
    current = await ctx.conversation()
    if current is not None and current.get("form") != state.get("form"):
        raise UserError("You started another order meanwhile; this one was dropped.")
    token = random_tokens.token_urlsafe(9)
    state["token"] = token
    state["currency"] = currency
    await ctx.save_conversation(state)
    lines = []
    if problem:
        lines += [f"⚠ {problem}", ""]
    lines += ["Please check your order:", f"Service: #{service.service_id} {service.name}"]
    for spec in forms.fields_for(service):
        if spec.name in answers and answers[spec.name] is not None:
            lines.append(
                f"{spec.label.capitalize()}: {forms.describe_answer(spec, answers[spec.name])}"
            )
    quantity = forms.quantity_of(service, answers)
    if quantity is not None and "quantity" not in answers:
        lines.append(f"Quantity: {quantity}")
    if cost is None:
        lines.append("Cost: unknown")
    elif forms.type_key(service.type) == "subscriptions" and not answers.get("posts"):
        lines.append(f"Cost: up to {money(cost, currency)} per new post (reserved for one post)")
    else:
        lines.append(f"Cost: {money(cost, currency)}")
    if ctx.inv.is_private:
        # The balance is private (/balance refuses groups): show it only in a private chat.
        lines.append(f"Balance: {balance_text}")
    if short:
        lines.append("⚠ Your balance is lower than the cost: the panel will likely refuse it.")
    owner = ctx.inv.user_id
    buttons = (
        (
            await ctx.button("✔ Confirm", WizardConfirm(owner, token), "success"),
            await ctx.button("✖ Cancel", WizardCancel(owner, token), "danger"),
        ),
    )
    return Reply("\n".join(lines), buttons=buttons, private=True, edit=False)


async def _credential_of(ctx: Context, state: dict[str, object]) -> ActiveKey:
    credential_id = state.get("credential_id")
    row = (
        await credentials.get_credential(ctx.db, credential_id)
        if isinstance(credential_id, int)
        else None
    )
    if row is None or row.user_id != ctx.user.id:
        raise UserError("The key this order form was for is gone. Start again with /order.")
    return ctx.decrypt(row)


def already_reply(row: OrderRow) -> Reply:
    """The answer to a Confirm whose order was handled before: nothing is placed again."""
    if row.state in ("placed", "tracked") and row.panel_order_id:
        text = f"Already placed as order #{row.panel_order_id}. Nothing was ordered again."
    elif row.state == "failed":
        reason = row.error or "the panel refused it"
        text = f"This order was not placed: {reason}. Start again with /order."
    elif row.state == "unknown":
        text = (
            "The outcome of this order is unknown (the panel did not answer in time). Check your "
            "orders on the panel before ordering again; I did not retry."
        )
    else:
        text = (
            "This order is being placed right now, or the bot restarted while placing it. Check "
            "/orders or your panel before ordering again; I will not place it twice."
        )
    return Reply(text, private=True, notice="Already handled", edit=True)


@registry.action(WizardConfirm)
async def wizard_confirm(ctx: Context, action: WizardConfirm) -> Reply:
    """Place the order at most once: the intent is stored before the panel is called."""
    existing = await orders.get_order_by_token(ctx.db, action.token, user_id=ctx.user.id)
    if existing is not None:
        return already_reply(existing)
    state = await wizard_state(ctx)
    if state is None or state.get("token") != action.token or "service" not in state:
        raise UserError("This confirmation has expired. Start again with /order.")
    service = service_from_state(state["service"])
    answers = _answers(state)
    credential = await _credential_of(ctx, state)
    fields = forms.add_fields(service, answers)
    link = answers.get("link") or answers.get("username") or ""
    cost = forms.order_cost(service, answers)
    row = await orders.create_intent(
        ctx.db,
        user_id=ctx.user.id,
        credential_id=credential.credential.id,
        panel_url=credential.panel_url,
        intent_token=action.token,
        service_id=service.service_id,
        service_name=service.name,
        service_type=service.type,
        link=str(link),
        quantity=forms.quantity_of(service, answers),
        fields=dict(fields),
        cost=cost,
        currency=str(state.get("currency", "")),
        can_refill=service.refill,
        can_cancel=service.cancel,
    )
    if row is None:
        # Another press got here first: that press places the order, this one only reports.
        again = await orders.get_order_by_token(ctx.db, action.token, user_id=ctx.user.id)
        if again is None:
            raise UserError("This confirmation has expired. Start again with /order.")
        return already_reply(again)
    try:
        # `add` is never retried: a second attempt can place and charge the order twice.
        order_id = await ctx.panel.add(
            credential.panel_url, credential.key, service.service_id, fields
        )
    except PanelUnavailable as error:
        if error.outcome_unknown:
            await orders.mark_unknown(ctx.db, row.id, error.message)
            await ctx.clear_conversation()
            return Reply(
                "⚠ I could not tell whether the panel placed this order (it did not answer in "
                "time). Check your orders on the panel before trying again; I did not retry, "
                "so you are not charged twice by me.",
                private=True,
                edit=True,
            )
        await orders.mark_failed(ctx.db, row.id, error.message)
        return await confirmation_reply(
            ctx,
            state,
            "The panel could not be reached, so nothing was placed. Confirm to try again.",
        )
    except InvalidApiKey:
        # BotCore marks the key this form used (ctx.used_credential) as rejected.
        await orders.mark_failed(ctx.db, row.id, "invalid API key")
        await ctx.clear_conversation()
        raise
    except PanelRefused as error:
        await orders.mark_failed(ctx.db, row.id, error.panel_text)
        return await confirmation_reply(
            ctx, state, f"The panel refused this order: {error.panel_text}"
        )
    # From here on the order exists and is paid: whatever fails below, the user must hear
    # "placed as #N", never "nothing was changed, try again" (that would place it twice).
    try:
        await orders.mark_placed(ctx.db, row.id, order_id)
        await ctx.clear_conversation()
        for hook in ctx.res.placed_hooks:
            await hook(ctx.user.id)
    except Exception:
        log.exception("order %s was placed but recording it failed", order_id)
        with contextlib.suppress(Exception):
            await orders.mark_unknown(ctx.db, row.id, f"placed as #{order_id}, not recorded")
    currency = str(state.get("currency", ""))
    cost_text = f" Expected cost: {money(cost, currency)}." if cost is not None else ""
    try:
        status = StatusRefresh(ctx.inv.user_id, order_id, credential.credential.id)
        buttons: tuple[tuple[Button, ...], ...] = (
            (await ctx.button("Status", status, "primary"),),
        )
    except Exception:
        buttons = ()
    return Reply(
        f"✅ Order placed: #{order_id} — {service.name}.{cost_text}\n"
        "I will tell you when its status changes.",
        buttons=buttons,
        private=True,
        edit=True,
    )
