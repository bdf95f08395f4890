"""The fake Discord against the real discord.py 2.7.1 stack: Client + CommandTree + ui items.

The commands, button and modal below exist only to exercise the fake; the bot's adapter is
tested against the same fake elsewhere.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from tests.fakes.discord_server import TEST_CHANNEL_ID, TEST_GUILD_ID, FakeDiscord

USER = 5001


class OrderModal(discord.ui.Modal, title="New order"):
    """A modal with two text inputs, answered with an ephemeral message."""

    link: discord.ui.TextInput[OrderModal] = discord.ui.TextInput(
        label="Link", custom_id="order:link"
    )
    quantity: discord.ui.TextInput[OrderModal] = discord.ui.TextInput(
        label="Quantity", custom_id="order:qty"
    )

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="order-modal")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Keep the submitted values and confirm."""
        self.seen["modal"] = (self.link.value, self.quantity.value)
        await interaction.response.send_message(f"ordered {self.quantity.value}", ephemeral=True)


class OrderView(discord.ui.View):
    """A persistent view: its button has a fixed custom_id and opens the modal."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.button(label="Order", custom_id="open-order")
    async def open_order(
        self, interaction: discord.Interaction, button: discord.ui.Button[OrderView]
    ) -> None:
        """Open the order modal."""
        await interaction.response.send_modal(OrderModal(self.seen))


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """A modal in the newer layout: inputs inside Label components (type 18)."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="feedback-modal")
        self.seen = seen
        self.text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(custom_id="fb:text")
        self.rating: discord.ui.Select[FeedbackModal] = discord.ui.Select(
            custom_id="fb:rating",
            options=[discord.SelectOption(label=str(n), value=str(n)) for n in range(1, 6)],
        )
        self.add_item(discord.ui.Label(text="Your words", component=self.text))
        self.add_item(discord.ui.Label(text="Rating", component=self.rating))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Keep the values and confirm."""
        self.seen["feedback"] = (self.text.value, self.rating.values)
        await interaction.response.send_message("thanks", ephemeral=True)


class ServicePicker(discord.ui.View):
    """A persistent view with a string select."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.select(
        custom_id="pick-service",
        options=[
            discord.SelectOption(label=n, value=v) for v, n in [("1", "Likes"), ("2", "Views")]
        ],
    )
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.Select[ServicePicker]
    ) -> None:
        """Keep the picked values and acknowledge without a new message."""
        self.seen["picked"] = select.values
        await interaction.response.defer()


class CounterButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"counter:(?P<n>\d+)"):
    """A button whose state lives in its custom_id, so it survives restarts."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"Count {n}", custom_id=f"counter:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CounterButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Edit the message in place with the next count."""
        view = discord.ui.View(timeout=None)
        view.add_item(CounterButton(self.n + 1))
        await interaction.response.edit_message(content=f"count {self.n + 1}", view=view)


class BotUnderTest(discord.Client):
    """A client with a command tree built for these tests."""

    def __init__(self, intents: discord.Intents) -> None:
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.seen: dict[str, Any] = {}
        self.ready_event = asyncio.Event()
        self.tree = app_commands.CommandTree(self)
        seen = self.seen

        @self.tree.command(name="balance", description="Show the panel balance")
        async def balance(interaction: discord.Interaction) -> None:
            seen["balance_user"] = interaction.user.id
            seen["balance_channel"] = interaction.channel_id
            seen["balance_guild"] = interaction.guild_id
            await interaction.response.send_message("Balance: 12.50 USD", ephemeral=True)

        @self.tree.command(name="order", description="Place an order")
        @app_commands.describe(service="Service", quantity="How many", link="Where")
        async def order(
            interaction: discord.Interaction, service: int, quantity: int, link: str
        ) -> None:
            seen["order"] = (service, quantity, link)
            view = discord.ui.View(timeout=None)
            view.add_item(CounterButton(0))
            await interaction.response.send_message(f"order {service} x{quantity}", view=view)

        @order.autocomplete("service")
        async def order_service(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[int]]:
            seen["typed"] = current
            names = {1: "Followers", 2: "Likes", 3: "Views"}
            return [
                app_commands.Choice(name=n, value=v)
                for v, n in names.items()
                if current.lower() in n.lower()
            ]

        @self.tree.command(name="menu", description="Show the order button")
        async def menu(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Order here", view=OrderView(seen))

        @self.tree.command(name="slow", description="Answer after thinking")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done thinking")

        @self.tree.command(name="edit", description="Defer, edit, read back")
        async def edit(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.edit_original_response(content="edited")
            seen["original"] = (await interaction.original_response()).content

        @self.tree.command(name="late", description="Answers after the deadline")
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.2)
            try:
                await interaction.response.send_message("too late")
            except discord.NotFound as exc:
                seen["late"] = exc.code

        @self.tree.command(name="feedback", description="Leave feedback")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal(seen))

        @self.tree.command(name="pick", description="Pick a service")
        async def pick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Pick one", view=ServicePicker(seen))

    async def setup_hook(self) -> None:
        """Register the persistent views and the dynamic button, as a restarted bot would."""
        self.add_view(OrderView(self.seen))
        self.add_view(ServicePicker(self.seen))
        self.add_dynamic_items(CounterButton)

    async def on_ready(self) -> None:
        """Signal the test."""
        self.ready_event.set()


def point_discord_py_at(monkeypatch: pytest.MonkeyPatch, fake: FakeDiscord) -> None:
    """What the adapter does with DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A started fake with discord.py pointed at it."""
    async with FakeDiscord() as dc:
        point_discord_py_at(monkeypatch, dc)
        yield dc


@asynccontextmanager
async def running(
    fake: FakeDiscord, intents: discord.Intents | None = None
) -> AsyncIterator[BotUnderTest]:
    """Start a BotUnderTest, wait for on_ready, and close it afterwards."""
    client = BotUnderTest(intents if intents is not None else discord.Intents.none())
    task = asyncio.create_task(client.start(fake.token))
    ready = asyncio.create_task(client.ready_event.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()
    assert ready in done, "client did not become ready"
    try:
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[BotUnderTest]:
    """A ready client whose commands are synced."""
    async with running(fake) as client:
        await client.tree.sync()
        yield client
    assert fake.unmatched == [], "discord.py called routes the fake does not serve"


# ----- connect, READY, sync ----------------------------------------------------------------------
async def test_connect_ready_and_sync(fake: FakeDiscord) -> None:
    async with running(fake) as client:
        assert client.user is not None and client.user.id == 4242 and client.user.bot
        assert client.application_id == fake.application_id
        assert fake.identify_count == 1
        assert fake.identify_payloads[0]["intents"] == 0
        assert fake.identify_payloads[0]["token"] == "<redacted>"
        assert fake.gateway_connects[0]["path"] == "/gateway"
        assert fake.gateway_connects[0]["v"] == "10"
        assert fake.gateway_connects[0]["compress"] == "zlib-stream"
        await fake.wait_until(lambda: fake.heartbeat_count >= 1)

        synced = await client.tree.sync()

        assert [c.name for c in synced] == [
            "balance",
            "order",
            "menu",
            "slow",
            "edit",
            "late",
            "feedback",
            "pick",
        ]
        assert all(c.id > 0 for c in synced)
        assert len(fake.command_syncs) == 1
        order = next(c for c in fake.commands if c["name"] == "order")
        assert [(o["name"], o["type"], o.get("autocomplete", False)) for o in order["options"]] == [
            ("service", 4, True),
            ("quantity", 4, False),
            ("link", 3, False),
        ]
        again = await client.tree.sync()
        assert [c.id for c in again] == [c.id for c in synced]  # same name keeps its id
        assert len(fake.command_syncs) == 2
    assert [c.path for c in fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.unmatched == []
    printed = repr(fake.calls) + repr(fake.identify_payloads) + repr(fake)
    assert fake.token not in printed


async def test_invalid_command_definition_is_refused(fake: FakeDiscord) -> None:
    async with running(fake) as client:
        bad: app_commands.Command[Any, ..., None] = app_commands.Command(
            name="price", description="x" * 101, callback=_noop_command
        )  # description over Discord's 100
        client.tree.add_command(bad)
        with pytest.raises(discord.HTTPException) as caught:
            await client.tree.sync()
    assert caught.value.status == 400 and caught.value.code == 50035
    assert fake.command_syncs == []


async def _noop_command(interaction: discord.Interaction) -> None:
    """A command callback that is never run."""


# ----- slash commands, autocomplete --------------------------------------------------------------
async def test_slash_command_answered_via_callback(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.slash_command("balance")

    call = await fake.wait_for_response(ref)

    assert call.status == 200 and call.query == {"with_response": "1"}
    assert call.json == {
        "type": 4,
        "data": {"tts": False, "content": "Balance: 12.50 USD", "flags": 64},
    }
    assert bot.seen["balance_user"] == USER and bot.seen["balance_guild"] is None
    original = fake.original_message(ref)
    assert original is not None and original["content"] == "Balance: 12.50 USD"
    assert original["interaction_metadata"]["user"]["id"] == str(USER)
    assert fake.responses_for(ref) == [call]


async def test_slash_command_in_guild_channel(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.slash_command("balance", guild_id=TEST_GUILD_ID, user_id=5002)
    await fake.wait_for_response(ref)
    assert ref.payload["member"]["user"]["id"] == "5002"
    assert ref.payload["channel"]["id"] == str(TEST_CHANNEL_ID)
    assert ref.payload["app_permissions"] and ref.payload["locale"] == "en-US"
    assert bot.seen["balance_guild"] == TEST_GUILD_ID
    assert bot.seen["balance_channel"] == TEST_CHANNEL_ID


async def test_options_arrive_with_registered_types(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.slash_command("order", {"service": 3, "quantity": 1000, "link": "https://x.y/z"})
    await fake.wait_for_response(ref)
    assert [(o["name"], o["type"], o["value"]) for o in ref.payload["data"]["options"]] == [
        ("service", 4, 3),
        ("quantity", 4, 1000),
        ("link", 3, "https://x.y/z"),
    ]
    assert bot.seen["order"] == (3, 1000, "https://x.y/z")
    with pytest.raises(ValueError, match="missing"):
        fake.slash_command("order", {"service": 3})
    with pytest.raises(ValueError, match="not in the registered"):
        fake.slash_command("order", {"service": 3, "quantity": 1, "link": "l", "colour": "red"})


async def test_autocomplete_choices_recorded(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.autocomplete("order", {"service": "li", "quantity": 10}, focused="service")

    call = await fake.wait_for_response(ref)

    focused = ref.payload["data"]["options"][0]
    assert focused == {"name": "service", "type": 4, "value": "li", "focused": True}
    assert bot.seen["typed"] == "li"
    assert call.json == {"type": 8, "data": {"choices": [{"name": "Likes", "value": 2}]}}
    assert call.status == 200


# ----- components and modals ---------------------------------------------------------------------
async def test_dynamic_button_press_edits_message(fake: FakeDiscord, bot: BotUnderTest) -> None:
    sent = fake.slash_command("order", {"service": 1, "quantity": 5, "link": "l"})
    await fake.wait_for_response(sent)
    message = fake.original_message(sent)
    assert message is not None
    button = message["components"][0]["components"][0]
    assert button["custom_id"] == "counter:0" and button["type"] == 2

    press = fake.press_component("counter:0")

    call = await fake.wait_for_response(press)
    assert call.json["type"] == 7
    assert press.payload["message"]["id"] == message["id"]
    assert press.payload["data"] == {"custom_id": "counter:0", "component_type": 2}
    edited = fake.messages[int(message["id"])]
    assert edited["content"] == "count 1"
    assert edited["components"][0]["components"][0]["custom_id"] == "counter:1"


async def test_persistent_button_opens_modal_and_submit_is_read(
    fake: FakeDiscord, bot: BotUnderTest
) -> None:
    menu = fake.slash_command("menu")
    await fake.wait_for_response(menu)

    press = fake.press_component("open-order")
    call = await fake.wait_for_response(press)
    assert call.json["type"] == 9
    modal = fake.modal_opened(press)
    assert modal is not None and modal["custom_id"] == "order-modal"
    assert modal["title"] == "New order"

    submit = fake.submit_modal("order-modal", {"order:link": "https://t.me/x", "order:qty": "250"})

    answer = await fake.wait_for_response(submit)
    assert bot.seen["modal"] == ("https://t.me/x", "250")
    assert answer.json["data"]["content"] == "ordered 250"
    rows = submit.payload["data"]["components"]
    assert rows[0]["type"] == 1 and rows[0]["components"][0]["type"] == 4
    assert submit.payload["message"]["id"] == fake.original_message(menu)["id"]  # type: ignore[index]


async def test_label_modal_with_select_is_read(fake: FakeDiscord, bot: BotUnderTest) -> None:
    opened = fake.slash_command("feedback")
    await fake.wait_for_response(opened)
    modal = fake.modal_opened(opened)
    assert modal is not None and [c["type"] for c in modal["components"]] == [18, 18]

    submit = fake.submit_modal("feedback-modal", {"fb:text": "fast", "fb:rating": ["5"]})

    await fake.wait_for_response(submit)
    assert bot.seen["feedback"] == ("fast", ["5"])
    labels = submit.payload["data"]["components"]
    assert labels[0] == {
        "type": 18,
        "id": 1,
        "component": {"type": 4, "id": 2, "custom_id": "fb:text", "value": "fast"},
    }
    assert labels[1]["type"] == 18 and labels[1]["component"]["values"] == ["5"]
    with pytest.raises(ValueError, match="not inputs"):
        fake.submit_modal("feedback-modal", {"fb:colour": "red"})


async def test_select_values_reach_the_view(fake: FakeDiscord, bot: BotUnderTest) -> None:
    shown = fake.slash_command("pick")
    await fake.wait_for_response(shown)

    press = fake.press_component("pick-service", values=["2"])

    call = await fake.wait_for_response(press)
    assert call.json == {"type": 6}
    assert press.payload["data"] == {
        "custom_id": "pick-service",
        "component_type": 3,
        "values": ["2"],
    }
    assert bot.seen["picked"] == ["2"]


async def test_deferred_reply_then_followup(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.slash_command("slow")

    followup = await fake.wait_for_call("POST", rf"/webhooks/{fake.application_id}/[^/]+")

    calls = fake.responses_for(ref)
    assert [c.json["type"] for c in calls[:1]] == [5]
    assert calls[1] == followup and followup.query.get("wait") == "1"
    original = fake.original_message(ref)
    assert original is not None and original["content"] == "done thinking"
    assert not original["flags"] & 128  # no longer "thinking"


async def test_deferred_edit_and_read_back(fake: FakeDiscord, bot: BotUnderTest) -> None:
    ref = fake.slash_command("edit")

    await fake.wait_until(lambda: "original" in bot.seen)

    assert bot.seen["original"] == "edited"
    calls = fake.responses_for(ref)
    assert [(c.method, c.status) for c in calls] == [("POST", 200), ("PATCH", 200), ("GET", 200)]
    assert calls[0].json == {"type": 5, "data": {"flags": 64}}
    assert calls[1].path.endswith("/messages/@original")
    original = fake.original_message(ref)
    assert original is not None and original["flags"] == 64 and original["content"] == "edited"


async def test_late_answer_is_an_unknown_interaction(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(callback_deadline=0.1) as fake:
        point_discord_py_at(monkeypatch, fake)
        async with running(fake) as client:
            await client.tree.sync()
            ref = fake.slash_command("late")
            await fake.wait_until(lambda: "late" in client.seen)
    assert client.seen["late"] == 10062
    assert [c.status for c in fake.responses_for(ref)] == [404]


async def test_oversized_reply_and_double_acknowledge_are_refused(
    fake: FakeDiscord, bot: BotUnderTest
) -> None:
    got: list[discord.HTTPException] = []

    @bot.tree.command(name="twice", description="Answers badly")
    async def twice(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("x" * 2001)
        except discord.HTTPException as exc:
            got.append(exc)
        await interaction.response.defer()
        # A raw second callback, as a buggy adapter might send it.
        adapter = discord.webhook.async_.async_context.get()
        params = discord.webhook.async_.interaction_response_params(4, {"content": "late"})
        try:
            await adapter.create_interaction_response(
                interaction.id, interaction.token, session=interaction._session, params=params
            )
        except discord.HTTPException as exc:
            got.append(exc)

    ref = fake.slash_command("twice")

    await fake.wait_until(lambda: len(got) == 2)
    assert [(e.status, e.code) for e in got] == [(400, 50035), (400, 40060)]
    assert "content" in got[0].text or "2000" in got[0].text
    assert [c.status for c in fake.responses_for(ref)] == [400, 200, 400]


# ----- DMs, errors, rate limits ------------------------------------------------------------------
async def test_dm_sent(fake: FakeDiscord, bot: BotUnderTest) -> None:
    user = await bot.fetch_user(USER)
    sent = await user.send("Order 23501 is Completed")

    assert fake.dms[USER][0]["content"] == "Order 23501 is Completed"
    assert sent.id == int(fake.dms[USER][0]["id"])
    assert [c.path for c in fake.calls[-3:]] == [
        f"/users/{USER}",
        "/users/@me/channels",
        f"/channels/{sent.channel.id}/messages",
    ]
    assert fake.calls[-2].json == {"recipient_id": USER}

    await sent.edit(content="Order 23501 is Completed (edited)")
    assert fake.calls[-1].method == "PATCH" and fake.calls[-1].status == 200
    assert fake.dms[USER][0]["content"] == "Order 23501 is Completed (edited)"
    assert fake.dms[USER][0]["edited_timestamp"] is not None


async def test_dm_refused_surfaces_as_forbidden(fake: FakeDiscord, bot: BotUnderTest) -> None:
    user = await bot.fetch_user(USER)
    fake.fail_next(
        "POST",
        r"/channels/\d+/messages",
        403,
        {"code": 50007, "message": "Cannot send messages to this user"},
    )
    with pytest.raises(discord.Forbidden) as caught:
        await user.send("hello")
    assert caught.value.code == 50007

    fake.dm_closed.add(USER)
    with pytest.raises(discord.Forbidden) as again:
        await user.send("hello")
    assert again.value.code == 50007
    assert USER not in fake.dms


async def test_rate_limit_is_retried_by_discord_py(fake: FakeDiscord, bot: BotUnderTest) -> None:
    user = await bot.fetch_user(USER)
    fake.fail_next("POST", r"/channels/\d+/messages", 429, retry_after=0.2)

    await user.send("after a rate limit")

    posts = fake.calls_matching("POST", r"/channels/\d+/messages")
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].time - posts[0].time >= 0.19
    assert fake.dms[USER][0]["content"] == "after a rate limit"


async def test_rate_limited_interaction_callback_is_retried(
    fake: FakeDiscord, bot: BotUnderTest
) -> None:
    fake.fail_next("POST", r"/interactions/\d+/[^/]+/callback", 429, retry_after=0.05)
    ref = fake.slash_command("balance")

    await fake.wait_until(lambda: [c.status for c in fake.responses_for(ref)] == [429, 200])


async def test_rest_refusals(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(fake.api_base + "/users/@me") as anonymous:
            assert anonymous.status == 401
            assert await anonymous.json() == {"message": "401: Unauthorized", "code": 0}
        headers = {"Authorization": f"Bot {fake.token}"}
        async with http.get(fake.api_base + "/guilds/1/roles", headers=headers) as unknown:
            assert unknown.status == 404
            assert unknown.headers["Content-Type"] == "application/json"
            assert (await unknown.json())["message"] == "404: Not Found"
        async with http.get(fake.api_base + "/gateway") as gateway:
            assert (await gateway.json())["url"] == fake.gateway_url
    assert [(c.method, c.path) for c in fake.unmatched] == [("GET", "/guilds/1/roles")]


async def test_bad_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("not.the.token")
    await client.close()


async def test_privileged_intents_are_refused(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents(members=True))
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(fake.token), 5)
    finally:
        await client.close()  # discord.py raises 4014 without closing its HTTP session
    assert fake.identify_count == 0


# ----- gateway: resume, guilds, compression, close -----------------------------------------------
async def test_forced_disconnect_resumes_and_replays(fake: FakeDiscord, bot: BotUnderTest) -> None:
    assert bot.ws is not None and bot.ws.sequence is not None
    seq_before = bot.ws.sequence
    await fake.force_disconnect()
    # Sent while the client is away: Discord replays it after RESUME.
    ref = fake.slash_command("balance")

    await fake.wait_until(lambda: fake.resume_count == 1)
    await fake.wait_for_response(ref)

    assert fake.identify_count == 1
    assert fake.gateway_connects[-1]["path"] == "/resume"
    assert bot.ws.sequence is not None and bot.ws.sequence > seq_before

    fake.request_reconnect()
    await fake.wait_until(lambda: fake.resume_count == 2)
    again = fake.slash_command("balance")
    await fake.wait_for_response(again)
    assert fake.identify_count == 1


async def test_guild_create_with_guilds_intent(fake: FakeDiscord) -> None:
    async with running(fake, discord.Intents(guilds=True)) as client:
        guild = client.get_guild(TEST_GUILD_ID)
        assert guild is not None and guild.name == "Test Guild"
        channel = guild.get_channel(TEST_CHANNEL_ID)
        assert channel is not None and channel.name == "general"
        assert guild.me is not None


async def test_compressed_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeDiscord(compress_frames=True) as fake:
        point_discord_py_at(monkeypatch, fake)
        async with running(fake) as client:
            assert client.is_ready()
            assert fake.compressed_frames_sent >= 1


async def test_clean_close_is_fast(fake: FakeDiscord) -> None:
    client = BotUnderTest(discord.Intents.none())
    task = asyncio.create_task(client.start(fake.token))
    await fake.wait_ready()
    await asyncio.wait_for(client.ready_event.wait(), 5)

    started = time.monotonic()
    await client.close()
    await asyncio.wait_for(task, 5)

    assert time.monotonic() - started < 1.0
    await fake.wait_until(lambda: fake.connection_count == 0, timeout=1.0)
