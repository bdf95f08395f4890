"""The Telegram front end: python-telegram-bot long polling in, the core's replies rendered out.

Named `telegram_messenger` (as errbot does) so it never shadows the `telegram` library.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatType, UpdateType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram_app.callbacks import CALLBACK_ANSWER_SECONDS, CallbackAnswer
from adapters.telegram_app.delivery import (
    delete_message,
    delivery_error,
    edit_part,
    send_parts,
)
from adapters.telegram_app.flood import NO_RETRY, FloodLimiter
from adapters.telegram_app.incoming import UserQueue, parse_command, replies_to
from adapters.telegram_app.polling import PollingWatch
from adapters.telegram_app.render import (
    callback_notice,
    deep_link,
    is_empty,
    render_alert,
    render_reply,
)
from bot.core.app import BotCore
from bot.core.seam import (
    DeliveryError,
    Invocation,
    InvocationKind,
    Platform,
    Recipient,
    RecipientUnreachable,
    Reply,
)
from bot.log_safety import clamp_library_loggers, secrets
from bot.settings import Settings

log = logging.getLogger(__name__)

TelegramApp = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE

# Long polling: Telegram holds getUpdates open this long when there is nothing new.
POLL_TIMEOUT = dtm.timedelta(seconds=30)
# Updates handled at once (each user's own updates still go one at a time, in order).
CONCURRENT_UPDATES = 32
# Times an interactive request is retried after a 429 (waiting the retry_after Telegram asks for);
# alerts are sent once and hand a 429 back to the outbox.
FLOOD_RETRIES = 3
# How long getUpdates may answer nothing but Conflict before the adapter gives up.
CONFLICT_FATAL_SECONDS = 120.0
ALLOWED_UPDATES = [UpdateType.MESSAGE, UpdateType.CALLBACK_QUERY]
KEY_NOT_DELETED_PRIVATE = (
    "⚠ I could not delete your message with the key. Please delete it yourself."
)
KEY_NOT_DELETED_GROUP = (
    "⚠ I could not delete your message with the key (I need the right to delete messages "
    "here). Delete it now, and since others may have seen it, make a new key on your panel."
)


class TelegramStartError(RuntimeError):
    """The adapter could not connect to Telegram (the text never holds the token)."""


class TelegramAdapter:
    """Serves the core on Telegram by long polling; also the core's Sender for Telegram users."""

    platform: Platform = "telegram"

    def __init__(
        self,
        core: BotCore,
        settings: Settings,
        *,
        answer_within: float = CALLBACK_ANSWER_SECONDS,
        conflict_grace: float = CONFLICT_FATAL_SECONDS,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.core = core
        self._token = settings.telegram_bot_token
        self._base_url = settings.telegram_api_base_url
        secrets.add(self._token.get_secret_value())
        self._app: TelegramApp | None = None
        self._answer_within = answer_within
        self._conflict_grace = conflict_grace
        # Set when polling can never work again (token revoked, another poller): the process
        # should stop so that its supervisor restarts it. `failure` says why.
        self.failed = asyncio.Event()
        self.failure = ""
        self._queue = UserQueue()
        # (chat, user) pairs the bot just asked for a secret: their next text is deleted at once.
        self._secret_prompts: set[tuple[int, int]] = set()
        specs = core.commands
        self._commands = frozenset(spec.name for spec in specs)
        self._private_commands = frozenset(spec.name for spec in specs if spec.private_only)

    def __repr__(self) -> str:
        return f"TelegramAdapter(running={self._app is not None})"

    @property
    def username(self) -> str:
        """The bot's @username ("" until started)."""
        username: str = self._app.bot.username if self._app is not None else ""
        return username

    def _application(self) -> TelegramApp:
        if self._app is None:
            raise DeliveryError("the Telegram adapter is not running")
        return self._app

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, register the commands and start long polling; returns once serving."""
        if self._app is not None:
            return
        # Bot API URLs carry the token and PTB's debug lines carry whole updates (keys in them).
        clamp_library_loggers()
        self.failed.clear()
        self.failure = ""
        app: TelegramApp = (
            Application.builder()
            .token(self._token.get_secret_value())
            .base_url(self._base_url)
            .rate_limiter(FloodLimiter(max_retries=FLOOD_RETRIES))
            .get_updates_request(
                PollingWatch(self._polling_died, conflict_grace=self._conflict_grace)
            )
            .concurrent_updates(CONCURRENT_UPDATES)
            .build()
        )
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self._on_message))
        app.add_handler(CallbackQueryHandler(self._on_callback))
        app.add_error_handler(self._on_error)
        try:
            await app.initialize()
        except InvalidToken:
            # PTB's own text for this error quotes the token.
            raise TelegramStartError("Telegram rejected TELEGRAM_BOT_TOKEN") from None
        except TelegramError as error:
            raise TelegramStartError(
                f"could not reach Telegram: {secrets.scrub(error.message)}"
            ) from None
        try:
            await self._register_commands(app)
            await app.start()
            assert app.updater is not None  # built with the default Updater
            await app.updater.start_polling(timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        except BaseException:
            await self._shut(app)
            raise
        self._app = app
        log.info("Telegram: polling as @%s", app.bot.username)

    async def stop(self) -> None:
        """Stop polling, finish the updates in hand, and close the connection."""
        app, self._app = self._app, None
        if app is not None:
            await self._shut(app)

    def _polling_died(self, reason: str) -> None:
        if self._app is None or self.failed.is_set():
            return  # stopping (the last getUpdates of a stop), or already reported
        log.debug("Telegram: polling cannot go on: %s", reason)
        self.failure = reason
        self.failed.set()

    @staticmethod
    async def _shut(app: TelegramApp) -> None:
        if app.updater is not None and app.updater.running:
            try:
                await app.updater.stop()
            except TelegramError as error:
                # The polling task ended on this error (a rejected token); stop the rest anyway.
                log.debug("Telegram: polling had ended: %s", secrets.scrub(error.message))
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _register_commands(self, app: TelegramApp) -> None:
        """The command menu: every command in private chats, the group-safe ones in groups."""
        specs = self.core.commands
        every = [BotCommand(spec.name, spec.description[:256]) for spec in specs]
        shared = [BotCommand(s.name, s.description[:256]) for s in specs if not s.private_only]
        try:
            await app.bot.set_my_commands(every, scope=BotCommandScopeDefault())
            await app.bot.set_my_commands(shared, scope=BotCommandScopeAllGroupChats())
        except TelegramError as error:
            # The menu is a convenience: typed commands work without it.
            log.warning("Telegram: could not register the command menu: %s", error.message)

    # ---- incoming ---------------------------------------------------------------------------

    def _invocation_for(self, message: Message, bot: Bot) -> Invocation | None:
        """What a text message means to the core, or None when it is not for this bot."""
        user, text = message.from_user, message.text or ""
        if user is None or user.is_bot:
            return None
        chat = message.chat
        private = chat.type == ChatType.PRIVATE
        kind: InvocationKind
        command = parse_command(text, bot.username)
        if command is not None:
            if command.addressed_to_us is False:
                return None  # /cmd@another_bot
            name, args = command.name, command.args
            if not private and command.addressed_to_us is None and name not in self._commands:
                return None  # an unknown bare /cmd in a group is likely another bot's
            if private and name == "start" and args in self._private_commands:
                # The deep link of an "open a private chat" button: run what was asked there.
                name, args = args, ""
            kind, invocation_text = "command", args
        elif private or replies_to(message, bot.id):
            name, kind, invocation_text = "", "text", text
        else:
            return None  # group chatter
        return Invocation(
            platform="telegram",
            user_id=str(user.id),
            chat_id=str(chat.id),
            is_private=private,
            kind=kind,
            name=name,
            text=invocation_text,
            display_name=user.full_name,
        )

    def _holds_secret(self, inv: Invocation, chat_id: int, user_id: int) -> bool:
        """Whether the message is (most likely) an API key, before the core has looked at it."""
        if inv.kind == "command":
            return inv.name == "setkey" and bool(inv.text)
        return (chat_id, user_id) in self._secret_prompts

    async def _on_message(self, update: Update, context: Context) -> None:
        """A text message: a command, or a typed answer (a wizard value, a prompted key)."""
        message = update.message
        if message is None or message.from_user is None:
            return
        inv = self._invocation_for(message, context.bot)
        if inv is None:
            return
        chat_id, user_id = message.chat_id, message.from_user.id
        async with self._queue.turn(inv.user_id):
            # The name last: the log redaction treats whatever follows "setkey" as a key.
            log.debug("Telegram user %s in chat %s: %s %s", user_id, chat_id, inv.kind, inv.name)
            deleted: bool | None = None
            if self._holds_secret(inv, chat_id, user_id):
                # Delete the key before the panel round trip that checks it.
                deleted = await delete_message(context.bot, chat_id, message.message_id)
            reply = await self.core.handle(inv)
            if reply.delete_user_message and deleted is None:
                deleted = await delete_message(context.bot, chat_id, message.message_id)
            warning = ""
            if deleted is False and reply.delete_user_message:
                warning = KEY_NOT_DELETED_PRIVATE if inv.is_private else KEY_NOT_DELETED_GROUP
            self._note_prompt(chat_id, user_id, reply)
            # In a group the answer quotes the command, so everyone sees whose answer it is.
            quote = None if inv.is_private or deleted else message.message_id
            await self._deliver(context, chat_id, inv, reply, quote=quote, warning=warning)

    async def _on_callback(self, update: Update, context: Context) -> None:
        """A button press: the core decides (ownership included); the query is always answered."""
        query = update.callback_query
        if query is None:
            return
        # Started before waiting for the user's turn: the answer's deadline runs from now.
        answer = CallbackAnswer(query, self._answer_within)
        try:
            if not query.data:
                return  # not one of ours (a game button); answered below
            await self._press(context, query.data, query, answer)
        finally:
            await answer.close()

    async def _press(
        self, context: Context, data: str, query: CallbackQuery, answer: CallbackAnswer
    ) -> None:
        """Run a button's action and show the reply (answering the query as soon as it can)."""
        message = query.message
        chat = message.chat if message is not None else None
        user_id = query.from_user.id
        chat_id = chat.id if chat is not None else user_id
        inv = Invocation(
            platform="telegram",
            user_id=str(user_id),
            chat_id=str(chat_id),
            is_private=chat is None or chat.type == ChatType.PRIVATE,
            kind="action",
            name=data,
            display_name=query.from_user.full_name,
        )
        async with self._queue.turn(inv.user_id):
            log.debug(
                "Telegram user %s in chat %s: button %s", user_id, chat_id, data.split(":", 1)[0]
            )
            reply = await self.core.handle(inv)
            # The client shows a spinner until the query is answered.
            # https://core.telegram.org/bots/api#answercallbackquery
            in_time = await answer.reply(callback_notice(reply), alert=reply.alert)
            if reply.alert:
                # A refusal changes nothing. Its popup is gone if a placeholder answered; say it
                # in a private chat, but do not post one user's refusal into a group.
                if in_time or not inv.is_private:
                    return
                reply = Reply(reply.text, private=True)
            self._note_prompt(chat_id, user_id, reply)
            editable = message if isinstance(message, Message) and reply.edit else None
            await self._deliver(context, chat_id, inv, reply, edit=editable)

    def _note_prompt(self, chat_id: int, user_id: int, reply: Reply) -> None:
        if reply.prompt is not None and reply.prompt.secret:
            self._secret_prompts.add((chat_id, user_id))
        else:
            self._secret_prompts.discard((chat_id, user_id))

    async def _deliver(
        self,
        context: Context,
        chat_id: int,
        inv: Invocation,
        reply: Reply,
        *,
        quote: int | None = None,
        edit: Message | None = None,
        warning: str = "",
    ) -> None:
        """Show a reply in the chat: edit the pressed message in place, or send new messages."""
        if is_empty(reply) and not warning:
            return
        payload = inv.name if inv.kind == "command" else ""
        parts = render_reply(
            reply,
            private_link=deep_link(context.bot.username, payload) if reply.open_private else None,
            group_prompt=not inv.is_private,
            warning=warning,
        )
        if (
            edit is not None
            and parts
            and await edit_part(context.bot, chat_id, edit.message_id, parts[0])
        ):
            parts = parts[1:]
        await send_parts(context.bot, chat_id, parts, reply_to=quote)

    async def _on_error(self, update: object, context: Context) -> None:
        """Log a failed update without its content (it may hold a key); serving goes on."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "Telegram update %s failed: %s",
            update_id,
            secrets.scrub(f"{type(error).__name__}: {error}"),
            exc_info=error,
        )

    # ---- Sender -----------------------------------------------------------------------------

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        """Push a reply (a status alert) to the user's private chat; raise DeliveryError if not."""
        bot = self._application().bot
        target = recipient.chat_id or recipient.user_id
        try:
            chat_id = int(target)
        except ValueError:
            raise RecipientUnreachable("not a Telegram chat id") from None
        part = render_alert(reply)
        if part is None:
            return
        try:
            # Sent once: on a 429 the outbox waits retry_after while other alerts go on.
            await send_parts(bot, chat_id, [part], rate_limit_args=NO_RETRY)
        except TelegramError as error:
            raise delivery_error(error) from error
