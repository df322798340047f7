"""Background services of twitch_webhooks' event hub (declared in manifest.json)."""

from __future__ import annotations

import os
import socket
import threading

from apps.twitch_webhooks.conduit.worker import ConduitWorker
from apps.twitch_webhooks.eventsub import webhook_subscriptions
from apps.twitch_webhooks.hub import service as hub
from apps.twitch_webhooks.hub.forwarder import fan_out, forward_webhooks
from apps.twitch_webhooks.hub.server import HubServer
from apps.twitch_webhooks.hub.transport import TransportManager
from shared.settings import get_settings


def eventsub_websocket(stop: threading.Event) -> None:
    """The EventSub WebSocket sessions of the bots the interests use (singleton); with
    EVENTSUB_TRANSPORT=conduit the conduit serves the interests instead, with webhook the app
    token's webhook subscriptions do (this service makes them)."""
    transport = get_settings().eventsub_transport
    if transport == "conduit":
        stop.wait()
    elif transport == "webhook":
        webhook_subscriptions.serve(stop)
    else:
        TransportManager().run(stop)


def eventsub_conduit(stop: threading.Event) -> None:
    """This worker's shards of the app's conduit (every worker runs it) with EVENTSUB_TRANSPORT=conduit."""
    if get_settings().eventsub_transport != "conduit":
        stop.wait()
        return
    ConduitWorker().run(stop)


def hub_websocket(stop: threading.Event) -> None:
    """/ws/events on WADDLEBOT_WS_PORT: every worker serves the services connected to it."""
    settings = get_settings()
    server = HubServer(settings.host, settings.waddlebot_ws_port, hub.authenticate_in_thread,
                       max_per_account=settings.hub_max_connections_per_account)
    server.start()
    worker_id = f"{socket.gethostname()}-{os.getpid()}"
    try:
        fan_out(server, stop, worker_id)
    finally:
        server.stop()
        hub.forget_connections(worker_id)


def hub_webhooks(stop: threading.Event) -> None:
    """Queues the signed webhook deliveries of the hub's events in the outbox (singleton)."""
    forward_webhooks(stop)
