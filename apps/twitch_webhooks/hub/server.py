"""The hub's WebSocket endpoint, /ws/events (the `websockets` library on an event loop of its own
thread): services connect with their credentials (the X-Client-Id and X-Client-Secret headers, or
the older ?client_id=…&client_secret=…, which ends up in access logs) and receive the events of
their interests as JSON text messages; an account has at most `max_per_account` connections.

Each connection has a bounded queue and its own sending task: a service that reads slowly only
fills its own queue, and is disconnected (code 4008) when the queue is full, so it never delays
the others. Services send nothing; what they send is read and ignored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from apps.twitch_webhooks.hub.accounts import ServiceAccount

log = logging.getLogger(__name__)
PATH = "/ws/events"
CLOSE_BAD_CREDENTIALS = 4001
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_MANY = 4009
CLOSE_TIMEOUT = 2.0


class _Client:
    def __init__(self, ws: ServerConnection, account: ServiceAccount, queue_size: int):
        self.ws = ws
        self.account = account
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.closing: asyncio.Task | None = None

    def close(self, code: int, reason: str, timeout: float) -> None:
        """Close with a reason; a peer that does not even read the close frame is cut off after `timeout`."""
        if self.closing is None:  # the task is kept: the loop holds only a weak reference
            loop = asyncio.get_running_loop()
            self.closing = loop.create_task(self.ws.close(code, reason))
            loop.call_later(timeout, self.ws.transport.abort)


class HubServer:
    """`authenticate(client_id, client_secret)` → the account or None; it runs in a thread pool.
    `publish` and `close_changed` may be called from any thread."""

    def __init__(self, host: str, port: int, authenticate: Callable[[str | None, str | None], ServiceAccount | None],
                 queue_size: int = 1000, close_timeout: float = CLOSE_TIMEOUT, max_per_account: int = 10):
        self.host, self.port = host, port
        self.max_per_account = max_per_account
        self._authenticate = authenticate
        self.queue_size, self.close_timeout = queue_size, close_timeout
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def connections(self) -> int:
        return len(self._clients)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle (any thread) ---------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> int:
        """Listen; returns the port (useful with port 0). Raises what binding raised."""
        self._thread = threading.Thread(target=self._run, name="hub-websocket", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the hub WebSocket server did not start")
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def publish(self, deliveries: Iterable[tuple[int, str]]) -> None:
        """Queue each (account id, JSON text) to every connection of that account."""
        deliveries = list(deliveries)
        if deliveries and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver, deliveries)

    def close_changed(self, versions: dict[int, int]) -> None:
        """Disconnect services whose account was removed or whose secret was regenerated."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._close_changed, dict(versions))

    # -- the event loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to start(); after start, the service notices the thread ended
            self._error = err
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._handle, self.host, self.port, process_request=self._check_path,
                         close_timeout=self.close_timeout, compression=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            log.info("hub WebSocket listening on %s:%s%s", self.host, self.port, PATH)
            await self._stopping.wait()

    @staticmethod
    def _check_path(connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != PATH:
            return connection.respond(404, f"the hub WebSocket is {PATH} (headers X-Client-Id, X-Client-Secret)\n")
        return None

    @staticmethod
    def _credentials(request: Request) -> tuple[str | None, str | None]:
        """(client id, secret) from the headers, else from the query string."""
        query = parse_qs(urlsplit(request.path).query)
        client_id = request.headers.get("X-Client-Id") or (query.get("client_id") or [None])[0]
        secret = request.headers.get("X-Client-Secret") or (query.get("client_secret") or [None])[0]
        return client_id, secret

    async def _handle(self, ws: ServerConnection) -> None:
        client_id, secret = self._credentials(ws.request)
        if not client_id or not secret:
            await ws.close(CLOSE_BAD_CREDENTIALS, "send the client_id and client_secret of a service account: headers "
                                                  "X-Client-Id and X-Client-Secret")
            return
        account = await asyncio.get_running_loop().run_in_executor(None, self._authenticate, client_id, secret)
        if account is None:
            await ws.close(CLOSE_BAD_CREDENTIALS, "invalid client_id or client_secret")
            return
        if sum(1 for client in self._clients if client.account.id == account.id) >= self.max_per_account:
            await ws.close(CLOSE_TOO_MANY, f"this service account has {self.max_per_account} connections already")
            return
        client = _Client(ws, account, self.queue_size)
        self._clients.add(client)
        sender = asyncio.create_task(self._send(client))
        log.info("service %s connected to the hub (%d connections)", account.name, len(self._clients))
        try:
            async for _ in ws:
                pass  # services have nothing to say; reading notices when they leave
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()
            log.info("service %s left the hub (%d connections)", account.name, len(self._clients))

    @staticmethod
    async def _send(client: _Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await client.ws.send(await client.queue.get())

    def _deliver(self, deliveries: list[tuple[int, str]]) -> None:
        for account_id, text in deliveries:
            for client in [client for client in self._clients if client.account.id == account_id]:
                if client.closing is not None:
                    continue
                try:
                    client.queue.put_nowait(text)
                except asyncio.QueueFull:
                    log.warning("service %s reads too slowly (%d events waiting): disconnected", client.account.name,
                                client.queue.qsize())
                    client.close(CLOSE_TOO_SLOW, f"too slow: {client.queue.qsize()} events were waiting; reconnect",
                                 self.close_timeout)

    def _close_changed(self, versions: dict[int, int]) -> None:
        for client in list(self._clients):
            if versions.get(client.account.id) != client.account.secret_version:
                client.close(CLOSE_BAD_CREDENTIALS, "the credentials were regenerated or the account was removed",
                             self.close_timeout)
