"""Chat command round trip: a chat message in → the bot's reply sent, over IRC and over EventSub
(channel.chat.message in, Send Chat Message out), through the real chat service (ChatService:
dedup by message id in the database, the command registry, the Helix pipeline) against the fake
Twitch servers of the test suite on 127.0.0.1. Prints figures, asserts nothing.

    .venv/bin/python bench/chat_roundtrip.py [--messages 300]

One message at a time (the next is sent when the reply arrived): p50/p95/max latency and round
trips per second. Twitch's own chat limits are lifted on the IRC side (the bench measures us, not
Twitch's 20-per-30-s window), and the command answers at once ("!ping" → "pong") so the figure is
the transport and pipeline cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({"WADDLEBOT_VAR_DIR": tempfile.mkdtemp(prefix="waddlebot-bench-chat-"),
                   "DATABASE_URL": "sqlite://bench.sqlite", "WADDLEBOT_SECRET_KEY": "bench-secret-key-0123456789abc",
                   "LOG_LEVEL": "ERROR", "REDIS_URL": ""})

from modules.sandbox.eventsub_ws import FakeEventSub, ws_subscription  # noqa: E402
from modules.sandbox.helix import FakeHelix  # noqa: E402
from modules.sandbox.irc import FakeChat  # noqa: E402
from tests.apps.twitch_auth.twitch_fakes import CLIENT_ID, store_bot  # noqa: E402

BOT_ID, BROADCASTER = "999", "1337"


def setup(eventsub: FakeEventSub, helix: FakeHelix, irc: FakeChat):
    for name, value in {"TWITCH_APP_ID": CLIENT_ID, "TWITCH_APP_SECRET": "secret", "TWITCH_HELIX_URL": helix.url,
                        "TWITCH_EVENTSUB_WS_URL": eventsub.url, "TWITCH_IRC_URL": irc.url, "CHAT_BOT": "main",
                        "RATE_LIMIT_REQUESTS_PER_SECOND": "100000"}.items():
        os.environ[name] = value
    from shared.db import get_db, migrate, transaction, utcnow

    migrate()
    db = get_db()
    store_bot(db, name="main", user_id=BOT_ID, login="waddlebot")
    with transaction(db):
        db.twitch_channel.insert(broadcaster_id=BROADCASTER, login="streamer", active=True, created_at=utcnow())
    from apps.twitch_chat.commands import registry

    registry.command("ping")(lambda command: "pong")
    return db


def start_service(db, transport: str):
    from apps.twitch_chat import workers
    from modules.twitch.chat_client import Limits
    from shared import tokens
    from shared.db import transaction

    scopes = list(tokens.BOT_SCOPES) if transport == "eventsub" else ["chat:read", "chat:edit"]
    with transaction(db):
        db(db.twitch_token.bot_name == "main").update(scopes=scopes)
    unlimited = Limits(messages=10**9, moderator_messages=10**9, channel_gap=0, joins=10**6)
    service = workers.ChatService(tokens.get_bot("main"), refresh_seconds=3600,
                                  irc_options={"tick": 0.05, "limits": unlimited})
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the chat service did not answer")
        time.sleep(0.0002)


def run_irc(db, irc: FakeChat, count: int) -> list[float]:
    stop, thread = start_service(db, "irc")
    wait(lambda: "JOIN #streamer" in irc.received)
    time.sleep(0.2)  # the JOIN echo and USERSTATE reach the client
    latencies = []
    for number in range(count):
        before = len(irc.lines("PRIVMSG"))
        started = time.perf_counter()
        irc.send(f"@badges=;display-name=V;id=irc-{number};room-id={BROADCASTER};user-id={number} "
                 f":v{number}!v@v.tmi.twitch.tv PRIVMSG #streamer :!ping")
        wait(lambda before=before: len(irc.lines("PRIVMSG")) > before)
        latencies.append(time.perf_counter() - started)
    stop.set()
    thread.join(10)
    return latencies


def run_eventsub(db, eventsub: FakeEventSub, helix: FakeHelix, count: int) -> list[float]:
    stop, thread = start_service(db, "eventsub")
    connection = eventsub.next_connection()
    connection.welcome("bench-session")
    wait(lambda: len(helix.subscriptions) >= 5)
    subscription = ws_subscription("channel.chat.message", "1", {"broadcaster_user_id": BROADCASTER,
                                                                  "user_id": BOT_ID})
    latencies = []
    for number in range(count):
        before = len(helix.sent)
        event = {"broadcaster_user_id": BROADCASTER, "broadcaster_user_login": "streamer",
                 "chatter_user_id": str(number), "chatter_user_login": f"v{number}", "chatter_user_name": "V",
                 "message_id": f"es-{number}", "message": {"text": "!ping", "fragments": []}, "badges": []}
        started = time.perf_counter()
        connection.notify(subscription, event)
        wait(lambda before=before: len(helix.sent) > before)
        latencies.append(time.perf_counter() - started)
    stop.set()
    thread.join(10)
    return latencies


def report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    print(f"{name:9s} {len(latencies)} round trips: p50 {p(0.5):.2f} ms, p95 {p(0.95):.2f} ms, "
          f"max {ordered[-1] * 1000:.2f} ms, {len(latencies) / sum(latencies):.0f} round trips/s "
          f"(mean {statistics.mean(latencies) * 1000:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    eventsub, irc = FakeEventSub(), FakeChat(tokens=("bot-access-0001",), moderated=("streamer",))
    helix = FakeHelix(client_id=CLIENT_ID, client_secret="secret", bucket_points=10**9).start()
    helix.user_token("bot-access-0001", BOT_ID, "user:read:chat", "user:write:chat")
    try:
        db = setup(eventsub, helix, irc)
        report("IRC", run_irc(db, irc, args.messages))
        report("EventSub", run_eventsub(db, eventsub, helix, args.messages))
    finally:
        eventsub.stop()
        helix.close()
        irc.close()


if __name__ == "__main__":
    main()
