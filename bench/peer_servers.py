"""The receivers bench/webhook_ingest.py --peers compares ours with, run in the peers' virtualenv
(bench/peers.py): one per process, on 127.0.0.1:PORT, until SIGTERM.

    var/bench-peers/bin/python bench/peer_servers.py twitchapi|twitchio|bare PORT

The secret comes from BENCH_SECRET, the subscription ids (type → id JSON) from BENCH_SUBSCRIPTIONS.
- twitchapi: twitchAPI 4's EventSubWebhook (aiohttp), every bench subscription registered with the
  event class its listen_* method would use and a callback that does nothing. Stores nothing.
- twitchio: TwitchIO 3's AiohttpAdapter with a client whose dispatch does nothing. Stores nothing.
- bare: the ceiling, a WSGI app on Granian (one worker, as ours): read the body, check the HMAC, 204.
- bare_get: the Helix cache-hit ceiling (bench/helix_proxy.py): a Granian WSGI app answering every
  request with the JSON body in BENCH_BODY.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

SECRET = os.environ.get("BENCH_SECRET", "")
SUBSCRIPTIONS: dict[str, str] = json.loads(os.environ.get("BENCH_SUBSCRIPTIONS", "{}"))
#: the twitchAPI event class of each bench type (what its listen_* methods register)
TWITCHAPI_EVENTS = {
    "channel.follow": "ChannelFollowEvent", "channel.subscribe": "ChannelSubscribeEvent",
    "channel.subscription.message": "ChannelSubscriptionMessageEvent",
    "channel.subscription.gift": "ChannelSubscriptionGiftEvent", "channel.cheer": "ChannelCheerEvent",
    "channel.raid": "ChannelRaidEvent", "channel.ban": "ChannelBanEvent", "stream.online": "StreamOnlineEvent",
    "stream.offline": "StreamOfflineEvent",
}


def bare_app(environ, start_response):
    """Read the body, verify Twitch's signature (HMAC-SHA256 of id + timestamp + body), answer."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    message = (environ.get("HTTP_TWITCH_EVENTSUB_MESSAGE_ID", "")
               + environ.get("HTTP_TWITCH_EVENTSUB_MESSAGE_TIMESTAMP", "")).encode() + body
    expected = "sha256=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected, environ.get("HTTP_TWITCH_EVENTSUB_MESSAGE_SIGNATURE", "")):
        start_response("204 No Content", [])
    else:
        start_response("403 Forbidden", [("Content-Length", "0")])
    return [b""]


BODY = os.environ.get("BENCH_BODY", "{}").encode()


def bare_get_app(environ, start_response):
    """Answer the same JSON bytes to every request, as a cache hit does."""
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def run_bare(port: int, app: str = "bare_app") -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    Server(f"peer_servers:{app}", address="127.0.0.1", port=port, interface=Interfaces.WSGI, workers=1,
           blocking_threads=64, working_dir=Path(__file__).resolve().parent, log_level="warning").serve()


def run_twitchapi(port: int) -> None:
    import signal
    import threading

    from twitchAPI.eventsub.webhook import EventSubWebhook
    from twitchAPI.object import eventsub as events

    async def ignore(event) -> None:
        pass

    # the receiver alone: no Twitch client (it is only used to subscribe), subscriptions registered here
    hook = EventSubWebhook(f"https://127.0.0.1:{port}", port, None, host_binding="127.0.0.1")  # type: ignore[arg-type]
    hook.secret = SECRET
    for event_type, subscription_id in SUBSCRIPTIONS.items():
        hook._callbacks[subscription_id] = {"id": subscription_id, "type": event_type, "active": True,
                                            "callback": ignore, "event": getattr(events, TWITCHAPI_EVENTS[event_type])}
    hook.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    os._exit(0)


def run_twitchio(port: int) -> None:
    import asyncio

    from twitchio.web import AiohttpAdapter

    class Client:
        """What the adapter needs of a twitchio Client to hand over an event."""

        _http = None

        def dispatch(self, event: str, payload: object) -> None:
            pass

    adapter = AiohttpAdapter(host="127.0.0.1", port=port, eventsub_secret=SECRET, client=Client())

    async def serve() -> None:
        await adapter.run()
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    runners = {"bare": run_bare, "bare_get": lambda port: run_bare(port, "bare_get_app"), "twitchapi": run_twitchapi,
               "twitchio": run_twitchio}
    runners[kind](port)
