"""Background services: the chat listener (one IRC connection of the chat bot in the channels of
the active Twitch channels, answering chat commands) and the completion of pending metadata."""

from __future__ import annotations

import logging
import threading
import time

from apps.twitch_chat import reco
from apps.twitch_chat.commands import registry
from modules.twitch.chat_client import ChatAuthError, ChatClient, channel_name
from modules.twitch.irc import ChatMessage, IrcMessage
from shared import tokens
from shared.db import get_db, transaction, utcnow
from shared.registry import NeedsReauth, NotConfigured
from shared.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL_REFRESH_SECONDS = 60.0
METADATA_IDLE_SECONDS = 30.0
NO_BOT = "-"  # the status row's key while no bot account is configured


def report_status(bot: str, status: str, detail: str, channels: list[str] | None = None) -> None:
    """Record the listener's state for the health check (which runs in the web process)."""
    db = get_db()
    with transaction(db):
        db.chat_connection.update_or_insert(db.chat_connection.bot == bot, bot=bot, status=status,
                                            detail=detail[:500], channels=channels or [], updated_at=utcnow())


def active_channels() -> list[str]:
    """The logins of the active Twitch channels (invalid ones are skipped)."""
    db = get_db()
    with transaction(db):
        rows = db(db.twitch_channel.active == True).select(db.twitch_channel.login)  # noqa: E712
    logins = []
    for row in rows:
        try:
            logins.append(channel_name(row.login))
        except ValueError:
            log.warning("twitch_channel login %r is not a valid channel name; not joined", row.login)
    return logins


class ChatListener:
    """The chat bot's connection, wired to the token service, the channels and the commands."""

    def __init__(self, bot: tokens.BotCredentials, *, refresh_seconds: float = CHANNEL_REFRESH_SECONDS,
                 **client_options):
        self.bot = bot
        self.refresh_seconds = refresh_seconds
        self._report_lock = threading.Lock()  # the connection thread and the service thread both report
        self.client = ChatClient(bot.login, self.token, url=get_settings().twitch_irc_url, on_message=self.received,
                                 on_auth_failed=self.refresh, on_state=self.state_changed, **client_options)

    def token(self) -> str:
        return self.bot.token

    def refresh(self) -> str | None:
        """After Twitch refused the token: a refreshed one, or None when only a new login helps."""
        try:
            self.bot = tokens.refresh_bot(self.bot.name)
        except (NeedsReauth, NotConfigured) as err:
            log.error("chat bot %s: %s", self.bot.name, err)
            return None
        return self.bot.token

    def state_changed(self, state: str, detail: str) -> None:
        self.report()

    def report(self) -> None:
        with self._report_lock:
            report_status(self.bot.name, self.client.state, self.client.detail, sorted(self.client.joined))

    def received(self, message: IrcMessage) -> None:
        if message.command == "PRIVMSG" and message.channel:
            registry.dispatch(ChatMessage.from_irc(message), self.client)
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
            ChatListener(bot).run(stop)
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
            pruned_at = time.monotonic()
        stop.wait(1 if tried else METADATA_IDLE_SECONDS)
