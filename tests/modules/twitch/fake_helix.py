"""A fake Twitch Helix on 127.0.0.1 (a threading WSGI server) for chat and EventSub: POST
/chat/messages, /eventsub/subscriptions, /eventsub/conduits and /eventsub/conduits/shards,
answering with Twitch's documented shapes and errors. Tokens are registered with `user_token`
(user id + scopes) or `app_token`; everything received is kept for the tests to assert on. The
app token reads and sends chat for a user in `bot_users` (granted user:bot) in a channel of
`bot_channels` (the broadcaster granted channel:bot) or of `moderators` ((broadcaster, user)).

With `sessions` (a FakeEventSub with auto=True) it also plays EventSub's side of a conduit:
`deliver` sends an event of a conduit subscription to one enabled WebSocket shard (round robin)
and, when that shard's socket is gone, disables the shard, notifies `conduit.shard.disabled` and
tries one other enabled shard, as Twitch does; `session_closed` disables a shard whose socket
ended. A webhook shard gets the event signed with its secret through `post_webhook(callback,
headers, body) -> HTTP status` (the test's way to reach its receiver)."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from modules.twitch.eventsub import NOTIFICATION, signed_message
from modules.twitch.helix import error_body

CLIENT_ID = "fake-client-id"
MAX_CONDUITS = 5
_ids = itertools.count(1)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class HelixProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Token:
    user_id: str | None  # None: an app token
    scopes: set[str] = field(default_factory=set)


@dataclass
class FakeConduit:
    id: str
    shard_count: int
    shards: dict[str, dict] = field(default_factory=dict)  # shard id → {status, transport}


class FakeHelix:
    """`drop_next` makes the next chat message come back is_sent false with that drop_reason."""

    def __init__(self, sessions=None, client_id: str = CLIENT_ID):
        self.client_id = client_id
        self.tokens: dict[str, Token] = {}
        self.logins: dict[str, str] = {}  # user id → login, for GET /users
        self.sent: list[dict] = []
        self.subscriptions: list[dict] = []
        self.conduits: dict[str, FakeConduit] = {}
        self.drop_next: dict | None = None
        self.bot_users: set[str] = set()
        self.bot_channels: set[str] = set()
        self.moderators: set[tuple[str, str]] = set()
        self.banned: set[tuple[str, str]] = set()  # (broadcaster, user): Twitch refuses the user's chat subscriptions
        self.requests: list[tuple[str, str]] = []
        self.sessions = sessions  # a FakeEventSub: which WebSocket sessions exist, for shards
        self.post_webhook = None  # (callback, headers, body) -> status: delivery to webhook shards
        self.lock = threading.RLock()
        self._turn = itertools.count()
        self._server = make_server("127.0.0.1", 0, self._app, server_class=_Server, handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/helix"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def user_token(self, token: str, user_id: str, *scopes: str) -> None:
        self.tokens[token] = Token(user_id, set(scopes))

    def user(self, user_id: str, login: str) -> None:
        self.logins[user_id] = login

    def app_token(self, token: str) -> None:
        self.tokens[token] = Token(None)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- WSGI --------------------------------------------------------------------------------
    def _app(self, environ, start_response):
        if environ["PATH_INFO"] == "/oauth2/validate":
            return self._validate(environ, start_response)
        if environ["PATH_INFO"] == "/oauth2/token":
            return self._app_token(environ, start_response)
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"].removeprefix("/helix/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = parse_qs(environ.get("QUERY_STRING", ""))  # name → every value
        self.requests.append((method, path))
        try:
            token = self._token(environ)
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise HelixProblem(400, "The request body must be a JSON object")
            status, answer = self._route(method, path, token, body, query)
        except HelixProblem as problem:
            status, answer = problem.status, error_body(problem.status, problem.message)
        except ValueError:
            status, answer = 400, error_body(400, "The request body is not valid JSON")
        data = json.dumps(answer).encode() if answer is not None else b""
        start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _validate(self, environ, start_response):
        """id.twitch.tv's GET /oauth2/validate (Authorization: OAuth <token>)."""
        token = self.tokens.get(environ.get("HTTP_AUTHORIZATION", "").removeprefix("OAuth "))
        if token is None:
            status, answer = 401, {"status": 401, "message": "invalid access token"}
        else:
            status, answer = 200, {"client_id": self.client_id, "login": self.logins.get(token.user_id),
                                   "user_id": token.user_id, "scopes": sorted(token.scopes), "expires_in": 3600}
        data = json.dumps(answer).encode()
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [data]

    def _app_token(self, environ, start_response):
        """id.twitch.tv's POST /oauth2/token (client credentials): a new app token."""
        token = f"app-token-{next(_ids)}"
        self.app_token(token)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"access_token": token, "expires_in": 5000000, "token_type": "bearer"}).encode()]

    def _token(self, environ) -> Token:
        if environ.get("HTTP_CLIENT_ID") != self.client_id:
            raise HelixProblem(401, "Client ID and OAuth token do not match")
        token = self.tokens.get(environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer "))
        if token is None:
            raise HelixProblem(401, "Invalid OAuth token")
        return token

    def _route(self, method: str, path: str, token: Token, body: dict, query: dict):
        routes = {("GET", "users"): self._users,
                  ("POST", "chat/messages"): self._send_message,
                  ("POST", "eventsub/subscriptions"): self._subscribe,
                  ("GET", "eventsub/conduits"): self._list_conduits,
                  ("POST", "eventsub/conduits"): self._create_conduit,
                  ("PATCH", "eventsub/conduits"): self._update_conduit,
                  ("GET", "eventsub/conduits/shards"): self._list_shards,
                  ("PATCH", "eventsub/conduits/shards"): self._update_shards}
        handler = routes.get((method, path))
        if handler is None:
            raise HelixProblem(404, f"no route {method} /{path}")
        with self.lock:
            return handler(token, body, query)

    def _users(self, token: Token, body: dict, query: dict):
        wanted = set(query.get("login", []))
        return 200, {"data": [{"id": user_id, "login": login, "display_name": login}
                              for user_id, login in self.logins.items() if login in wanted]}

    # -- chat --------------------------------------------------------------------------------
    def _send_message(self, token: Token, body: dict, query: dict):
        for name in ("broadcaster_id", "sender_id", "message"):
            if not body.get(name):
                raise HelixProblem(400, f"Missing required parameter \"{name}\"")
        if token.user_id is None:
            self._app_may_chat(body["broadcaster_id"], body["sender_id"])
        elif "user:write:chat" not in token.scopes:
            raise HelixProblem(401, "Missing scope: user:write:chat")
        elif body["sender_id"] != token.user_id:
            raise HelixProblem(403, "The sender is not permitted to send chat messages to the broadcaster's "
                                    "chat room.")
        if len(body["message"]) > 500:
            raise HelixProblem(422, "The message is too large")
        drop, self.drop_next = self.drop_next, None
        self.sent.append({**body, "is_sent": drop is None, "app_token": token.user_id is None})
        return 200, {"data": [{"message_id": str(uuid.uuid4()) if drop is None else "", "is_sent": drop is None,
                               "drop_reason": drop}]}

    def _app_may_chat(self, broadcaster_id: str, user_id: str) -> None:
        """Twitch's rule for the app token in chat: user:bot from the user, and channel:bot from the
        broadcaster or the user a moderator of the channel."""
        if user_id not in self.bot_users:
            raise HelixProblem(403, "The user has not authorized the app with the user:bot scope")
        if broadcaster_id not in self.bot_channels and (broadcaster_id, user_id) not in self.moderators:
            raise HelixProblem(403, "The broadcaster has not authorized the app with the channel:bot scope and "
                                    "the user is not a moderator")

    # -- subscriptions -----------------------------------------------------------------------
    def _subscribe(self, token: Token, body: dict, query: dict):
        transport = body.get("transport") or {}
        method = transport.get("method")
        condition = body.get("condition") or {}
        if str(body.get("type", "")).startswith("channel.chat."):
            if (condition.get("broadcaster_user_id"), condition.get("user_id")) in self.banned:
                raise HelixProblem(403, "The user in the condition is banned from the broadcaster's chat")
            if token.user_id is None:
                self._app_may_chat(condition.get("broadcaster_user_id"), condition.get("user_id"))
        if method == "websocket" and token.user_id is None:
            raise HelixProblem(400, "WebSocket transports require a user access token")
        if method == "conduit":
            if token.user_id is not None:
                raise HelixProblem(400, "Conduit transports require an app access token")
            if transport.get("conduit_id") not in self.conduits:
                raise HelixProblem(400, "The conduit was not found")
        for existing in self.subscriptions:
            if (existing["type"], existing["condition"], existing["transport"]) == (
                    body.get("type"), body.get("condition"), transport):
                raise HelixProblem(409, "subscription already exists")
        subscription = {"id": f"sub-{next(_ids)}", "status": "enabled", "type": body.get("type"),
                        "version": body.get("version"), "condition": body.get("condition"), "transport": transport,
                        "created_at": "2026-01-01T00:00:00Z", "cost": 0}
        self.subscriptions.append(subscription)
        return 202, {"data": [subscription], "total": len(self.subscriptions), "total_cost": 0,
                     "max_total_cost": 10000}

    def subscriptions_of(self, event_type: str) -> list[dict]:
        return [subscription for subscription in self.subscriptions if subscription["type"] == event_type]

    # -- conduits ----------------------------------------------------------------------------
    def _app_only(self, token: Token) -> None:
        if token.user_id is not None:
            raise HelixProblem(401, "An app access token is required")

    def _conduit_json(self, conduit: FakeConduit) -> dict:
        return {"id": conduit.id, "shard_count": conduit.shard_count}

    def _list_conduits(self, token: Token, body: dict, query: dict):
        self._app_only(token)
        return 200, {"data": [self._conduit_json(conduit) for conduit in self.conduits.values()]}

    def _create_conduit(self, token: Token, body: dict, query: dict):
        self._app_only(token)
        count = body.get("shard_count")
        if not isinstance(count, int) or not 1 <= count <= 20000:
            raise HelixProblem(400, "shard_count must be between 1 and 20000")
        if len(self.conduits) >= MAX_CONDUITS:
            raise HelixProblem(429, "The client has reached the maximum number of conduits")
        conduit = FakeConduit(str(uuid.uuid4()), count)
        self.conduits[conduit.id] = conduit
        return 200, {"data": [self._conduit_json(conduit)]}

    def _update_conduit(self, token: Token, body: dict, query: dict):
        self._app_only(token)
        conduit = self.conduits.get(body.get("id"))
        if conduit is None:
            raise HelixProblem(404, "Conduit not found")
        count = body.get("shard_count")
        if not isinstance(count, int) or not 1 <= count <= 20000:
            raise HelixProblem(400, "shard_count must be between 1 and 20000")
        conduit.shard_count = count
        conduit.shards = {shard_id: shard for shard_id, shard in conduit.shards.items() if int(shard_id) < count}
        return 200, {"data": [self._conduit_json(conduit)]}

    def _shard_json(self, shard_id: str, shard: dict) -> dict:
        return {"id": shard_id, "status": shard["status"], "transport": shard["transport"]}

    def _list_shards(self, token: Token, body: dict, query: dict):
        self._app_only(token)
        conduit = self.conduits.get((query.get("conduit_id") or [None])[0])
        if conduit is None:
            raise HelixProblem(404, "Conduit not found")
        shards = [self._shard_json(str(number), conduit.shards.get(str(number)) or {
            "status": "websocket_disconnected", "transport": {"method": "websocket", "session_id": ""}})
            for number in range(conduit.shard_count)]
        return 200, {"data": shards, "pagination": {}}

    def _update_shards(self, token: Token, body: dict, query: dict):
        self._app_only(token)
        conduit = self.conduits.get(body.get("conduit_id"))
        if conduit is None:
            raise HelixProblem(404, "Conduit not found")
        updated, errors = [], []
        for shard in body.get("shards") or []:
            shard_id, transport = str(shard.get("id")), shard.get("transport") or {}
            if not shard_id.isdigit() or int(shard_id) >= conduit.shard_count:
                errors.append({"id": shard_id, "message": "The shard id is outside the conduit's range",
                               "code": "invalid_parameter"})
            elif transport.get("method") == "webhook" and not (
                    str(transport.get("callback", "")).startswith("https://")
                    and 10 <= len(transport.get("secret") or "") <= 100):
                errors.append({"id": shard_id, "message": "The webhook callback must be https and the secret 10 to "
                                                          "100 characters", "code": "invalid_parameter"})
            elif transport.get("method") == "webhook":
                conduit.shards[shard_id] = {"status": "enabled", "secret": transport["secret"],
                                            "transport": {"method": "webhook", "callback": transport["callback"]}}
                updated.append(self._shard_json(shard_id, conduit.shards[shard_id]))
            elif transport.get("method") == "websocket" and (
                    self.sessions is None or not self.sessions.has_session(transport.get("session_id"))):
                errors.append({"id": shard_id, "message": "The websocket session was not found",
                               "code": "websocket_session_not_found"})
            else:
                conduit.shards[shard_id] = {"status": "enabled", "transport": transport}
                updated.append(self._shard_json(shard_id, conduit.shards[shard_id]))
        return 202, {"data": updated, "errors": errors}

    # -- EventSub's side of a conduit --------------------------------------------------------
    def _enabled_shards(self, conduit: FakeConduit) -> list[tuple[str, dict]]:
        return [(shard_id, shard) for shard_id, shard in sorted(conduit.shards.items())
                if shard["status"] == "enabled"]

    def _send_to_shard(self, conduit: FakeConduit, shard_id: str, subscription: dict, event: dict,
                       message_id: str) -> bool:
        shard = conduit.shards[shard_id]
        if shard["transport"]["method"] == "webhook":
            headers, body = signed_message(shard["secret"], NOTIFICATION, {"subscription": subscription,
                                                                          "event": event}, message_id)
            if 200 <= self.post_webhook(shard["transport"]["callback"], headers, body) < 300:
                return True
            self._disable(conduit, shard_id, "notification_failures_exceeded")
            return False
        connection = self.sessions.sessions.get(shard["transport"].get("session_id"))
        if connection is not None:
            connection.notify(subscription, event, message_id)
            if connection.delivered:
                return True
        self._disable(conduit, shard_id, "websocket_disconnected")
        return False

    def deliver(self, event_type: str, event: dict, message_id: str | None = None) -> tuple[str, str | None]:
        """Send one event of the conduit subscription of this type (`message_id`: a retry of that
        message); (message id, shard id that took it, or None when no shard could)."""
        message_id = message_id or str(uuid.uuid4())
        with self.lock:
            [subscription] = [sub for sub in self.subscriptions_of(event_type)
                              if sub["transport"].get("method") == "conduit"]
            conduit = self.conduits[subscription["transport"]["conduit_id"]]
            enabled = self._enabled_shards(conduit)
            if not enabled:
                return message_id, None
            first = enabled[next(self._turn) % len(enabled)][0]
            if self._send_to_shard(conduit, first, subscription, event, message_id):
                return message_id, first
            others = [shard_id for shard_id, _ in self._enabled_shards(conduit) if shard_id != first]
            if others and self._send_to_shard(conduit, others[0], subscription, event, message_id):
                return message_id, others[0]
            return message_id, None

    def session_closed(self, session_id: str) -> None:
        """A WebSocket ended: the shard it served is disabled."""
        with self.lock:
            for conduit in self.conduits.values():
                for shard_id, shard in list(conduit.shards.items()):
                    if shard["status"] == "enabled" and shard["transport"].get("session_id") == session_id:
                        self._disable(conduit, shard_id, "websocket_disconnected")

    def _disable(self, conduit: FakeConduit, shard_id: str, status: str) -> None:
        shard = conduit.shards[shard_id]
        if shard["status"] != "enabled":
            return
        shard["status"] = status
        shard["transport"] = {**shard["transport"], "disconnected_at": "2026-01-01T00:00:00Z"}
        subscriptions = [sub for sub in self.subscriptions_of("conduit.shard.disabled")
                         if sub["transport"].get("conduit_id") == conduit.id]
        event = {"conduit_id": conduit.id, "shard_id": shard_id, "status": status, "transport": shard["transport"]}
        for subscription in subscriptions:
            for other, _ in self._enabled_shards(conduit):
                if self._send_to_shard(conduit, other, subscription, event, str(uuid.uuid4())):
                    break

    def shard_statuses(self, conduit_id: str) -> dict[str, tuple[str, str | None]]:
        """{shard id: (status, session id)}."""
        with self.lock:
            return {shard_id: (shard["status"], shard["transport"].get("session_id"))
                    for shard_id, shard in self.conduits[conduit_id].shards.items()}
