"""Background services: the chat listener (the chat bot in the channels of the active Twitch
channels, answering chat commands, over IRC or EventSub as CHAT_TRANSPORT and the bot's grants
decide) and the completion of pending metadata."""

from __future__ import annotations

import logging
import threading
import time

from apps.twitch_chat import reco
from apps.twitch_chat.app_listener import AppTokenChatListener
from apps.twitch_chat.bot import ConnectedBot
from apps.twitch_chat.chat_events import prune_seen, run_command
from apps.twitch_chat.eventsub_listener import EventSubChatListener
from apps.twitch_chat.transport import Choice, current_choice
from modules.twitch.chat_client import ChatAuthError, ChatClient, channel_name
from modules.twitch.irc import ChatMessage, IrcMessage
from shared import dispatch, tokens
from shared.db import get_db, transaction, utcnow
from shared.registry import NeedsReauth, NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL_REFRESH_SECONDS = 60.0
METADATA_IDLE_SECONDS = 30.0
SWITCH_TIMEOUT_SECONDS = 30.0  # longest overlap of the old and the new transport during a switch
NO_BOT = "-"  # the status row's key while no bot account is configured
_report_lock = threading.Lock()


def report_status(bot: str, status: str, detail: str, channels: list[str] | None = None,
                  choice: Choice | None = None) -> None:
    """Record the listener's state for the health check (which runs in the web process)."""
    db = get_db()
    transport = {"transport": choice.transport, "transport_reason": choice.reason[:500]} if choice else {}
    with _report_lock, transaction(db):  # the service and its listeners' threads all report
        db.chat_connection.update_or_insert(db.chat_connection.bot == bot, bot=bot, status=status,
                                            detail=detail[:500], channels=channels or [], updated_at=utcnow(),
                                            **transport)


def active_channel_ids() -> dict[str, str]:
    """{login: broadcaster id} of the active Twitch channels (invalid logins are skipped)."""
    db = get_db()
    with transaction(db):
        rows = db(db.twitch_channel.active == True).select(db.twitch_channel.login,  # noqa: E712
                                                            db.twitch_channel.broadcaster_id)
    channels = {}
    for row in rows:
        try:
            channels[channel_name(row.login)] = row.broadcaster_id
        except ValueError:
            log.warning("twitch_channel login %r is not a valid channel name; not joined", row.login)
    return channels


def active_channels() -> list[str]:
    """The logins of the active Twitch channels."""
    return list(active_channel_ids())


class ChatListener(ConnectedBot):
    """The chat bot's IRC connection, wired to the token service, the channels and the commands."""

    transport = "irc"

    def __init__(self, bot: tokens.BotCredentials, *, refresh_seconds: float = CHANNEL_REFRESH_SECONDS,
                 **client_options):
        super().__init__(bot)
        self.refresh_seconds = refresh_seconds
        self.choice: Choice | None = None  # set by the service: why this transport
        self.reporting = lambda: True  # during a transport switch only the listener in use reports
        self.client = ChatClient(bot.login, self.token, url=get_settings().twitch_irc_url, on_message=self.received,
                                 on_auth_failed=self.refresh, on_state=self.state_changed, **client_options)

    @property
    def joined(self) -> set[str]:
        return self.client.joined

    def state_changed(self, state: str, detail: str) -> None:
        self.report()

    def report(self) -> None:
        if not self.reporting():
            return
        report_status(self.bot.name, self.client.state, self.client.detail, sorted(self.client.joined), self.choice)

    def received(self, message: IrcMessage) -> None:
        if message.command == "PRIVMSG" and message.channel:
            run_command(ChatMessage.from_irc(message), self.client, self.transport)
        elif message.command in ("JOIN", "PART") and message.nick == self.client.login:
            self.report()  # health lists the channels the bot is in

    def run(self, stop: threading.Event) -> None:
        """Connect, follow the active channels, and stop with `stop`. NeedsReauth when Twitch
        refuses the bot's token even after a refresh."""
        halt = threading.Event()  # ends the connection when the service stops or fails
        failures: list[Exception] = []

        def connect() -> None:
            try:
                self.client.run(halt)
            except Exception as err:  # re-raised in the service thread below
                failures.append(err)

        connection = threading.Thread(target=connect, name=f"chat-{self.bot.login}", daemon=True)
        connection.start()
        try:
            refresh_at = 0.0
            while connection.is_alive() and not stop.is_set():
                if time.monotonic() >= refresh_at:
                    self.client.set_channels(active_channels())
                    self.report()
                    refresh_at = time.monotonic() + self.refresh_seconds
                connection.join(min(0.5, self.refresh_seconds))
        finally:
            halt.set()
            connection.join(10)
        if failures and isinstance(failures[0], ChatAuthError):
            raise NeedsReauth(str(failures[0]))
        if failures:
            raise failures[0]


class ChatService:
    """Runs the bot's chat listener over the chosen transport, and switches when the choice changes
    (a new grant, CHAT_TRANSPORT): the new listener starts first and the old one stops once the
    new one reads the channels, so no command is lost; commands seen on both run once (dedup by
    Twitch's message id)."""

    def __init__(self, bot: tokens.BotCredentials, *, refresh_seconds: float = CHANNEL_REFRESH_SECONDS,
                 switch_timeout: float = SWITCH_TIMEOUT_SECONDS, irc_options: dict | None = None,
                 eventsub_options: dict | None = None, app_options: dict | None = None):
        self.bot = bot
        self.refresh_seconds, self.switch_timeout = refresh_seconds, switch_timeout
        self.irc_options, self.eventsub_options = irc_options or {}, eventsub_options or {}
        self.app_options = app_options or {}
        self.failures: list[Exception] = []
        self.listener = None

    def _start(self, choice: Choice):
        if choice.kind == ("eventsub", "app"):
            listener = AppTokenChatListener(self.bot, active_channel_ids, refresh_seconds=self.refresh_seconds,
                                            on_report=lambda: self._report(listener), **self.app_options)
        elif choice.transport == "eventsub":
            created: list[EventSubChatListener] = []
            listener = EventSubChatListener(self.bot, active_channel_ids, refresh_seconds=self.refresh_seconds,
                                            on_report=lambda: created and self._report(created[0]),
                                            **self.eventsub_options)
            created.append(listener)
        else:
            listener = ChatListener(self.bot, refresh_seconds=self.refresh_seconds, **self.irc_options)
            listener.reporting = lambda: self.listener in (None, listener)
        listener.choice = choice
        halt = threading.Event()

        def run() -> None:
            try:
                listener.run(halt)
            except Exception as err:  # re-raised by the service thread
                self.failures.append(err)

        thread = threading.Thread(target=run, name=f"chat-{choice.transport}-{self.bot.login}", daemon=True)
        thread.start()
        log.info("chat bot %s: reading chat over %s (%s)", self.bot.name, choice.transport, choice.reason)
        self._report(listener)
        return listener, halt, thread

    def _report(self, listener) -> None:
        if listener is self.listener or self.listener is None:
            report_status(self.bot.name, listener.state, listener.detail, sorted(listener.joined), listener.choice)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`; NeedsReauth when Twitch refuses the bot's token even after a refresh."""
        running = self._start(current_choice(self.bot))
        self.listener = running[0]
        try:
            while running[2].is_alive() and not stop.is_set():
                self._wait(running[2], stop)
                if not running[2].is_alive() or stop.is_set():
                    break
                choice = current_choice(self.bot)
                if choice.kind != self.listener.choice.kind and not stop.is_set():
                    running = self._switch(running, choice, stop)
                else:
                    self._report(self.listener)
        finally:
            running[1].set()
            running[2].join(10)
        self._raise_failure()

    def _wait(self, thread: threading.Thread, stop: threading.Event) -> None:
        """Until the next look at the choice, or earlier when the listener ends or `stop` is set."""
        deadline = time.monotonic() + self.refresh_seconds
        while thread.is_alive() and not stop.is_set() and time.monotonic() < deadline:
            thread.join(min(0.5, self.refresh_seconds))

    def _switch(self, old, choice: Choice, stop: threading.Event):
        new = self._start(choice)
        deadline = time.monotonic() + self.switch_timeout
        wanted = set(active_channel_ids())
        while not stop.is_set() and new[2].is_alive() and time.monotonic() < deadline:
            if new[0].state == "connected" and wanted <= new[0].joined:
                break
            stop.wait(0.05)
        old[1].set()
        old[2].join(10)
        self.listener = new[0]
        self._report(self.listener)
        return new

    def _raise_failure(self) -> None:
        if self.failures and isinstance(self.failures[0], ChatAuthError):
            raise NeedsReauth(str(self.failures[0]))
        if self.failures:
            raise self.failures[0]


def listen(stop: threading.Event) -> None:
    """Service: the chat listener. Waits (reporting "not configured") until a bot account exists."""
    while not stop.is_set():
        try:
            bot = tokens.get_bot(get_settings().chat_bot or None)
        except NotConfigured as err:
            report_status(NO_BOT, "not_configured", str(err))
            stop.wait(CHANNEL_REFRESH_SECONDS)
            continue
        except NeedsReauth as err:
            report_status(get_settings().chat_bot or NO_BOT, "needs_reauth", str(err))
            raise
        try:
            ChatService(bot).run(stop)
        except NeedsReauth as err:
            report_status(bot.name, "needs_reauth", str(err))
            raise
        return


def complete_metadata(stop: threading.Event) -> None:
    """Service: fetch the oEmbed metadata left pending while the provider was down, and prune old
    tickets and change events once an hour."""
    db = get_db()
    pruned_at = 0.0
    while not stop.is_set():
        tried = reco.complete_pending_metadata(db)
        if time.monotonic() - pruned_at > 3600:
            with transaction(db):
                reco.prune(db)
                prune_seen(db)
                dispatch.prune(db)
            pruned_at = time.monotonic()
        stop.wait(1 if tried else METADATA_IDLE_SECONDS)
