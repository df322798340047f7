"""A fake of the Twitch Helix API: users, chat/chatters, moderation/channels, streams and
eventsub/subscriptions (webhook, WebSocket and conduit transports), with Twitch's Ratelimit-*
headers, its 429 when a bucket is empty, and its documented error bodies
({"error": "Unauthorized", "status": 401, "message": "…"}); chat messages and conduits are in
modules/sandbox/conduits.py.

Tests and benches `start()` it on 127.0.0.1 (`url` ends in /helix; its id server answers /oauth2 on
the same port) and register tokens with `user_token` / `app_token`; the sandbox serves it behind
its own router with the id server it shares with the OAuth pages."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from modules.sandbox.conduits import ChatAndConduits, FakeConduit
from modules.sandbox.twitch_id import FakeTwitchId, Token
from modules.sandbox.web import Request, Response, Router, Server, empty, json_response, twitch_error
from modules.sandbox.world import BOT, BROADCASTER, TwitchUser, default_users
from modules.twitch.eventsub import format_timestamp

BUCKET_POINTS = 800  # points per minute of a token's bucket
PENDING = "webhook_callback_verification_pending"
REGISTERED_TOKEN_SECONDS = 10 * 365 * 86400  # of `user_token`/`app_token`: a test's token does not expire
ID_PREFIXES = {"webhook": "new", "websocket": "ws-sub"}  # of a new subscription's id, by transport

#: called with (subscription, secret) when a webhook subscription is created; True = the callback
#: answered the challenge (the sandbox's webhook sender does it, in a thread, as Twitch does)
Verifier = Callable[[dict, str], bool]


#: what a token is when no id server checks them: an app token of no one
UNCHECKED = Token("", None, (), math.inf)


@dataclass
class FakeHelix(ChatAndConduits):
    """`subscriptions` is Twitch's list (what GET pages through); `created` keeps request bodies,
    `deleted` the ids asked; `refusals` maps a type to (status, message) answered to a create;
    `live` maps a login to its viewer count (absent: offline). Chat: `sent` keeps Send Chat
    Message bodies (with is_sent and app_token), `drop_next` makes the next one come back is_sent
    false with that drop_reason; `banned` holds (broadcaster, user) pairs whose chat subscriptions
    Twitch refuses."""

    client_id: str = "sandbox-client-id"
    id_server: FakeTwitchId | None = None  # tokens are checked against it when given
    client_secret: str = "sandbox-client-secret"  # of the id server `user_token`/`start` make when none is given
    clock: Callable[[], float] = time.time
    page_size: int = 100
    bucket_points: int = BUCKET_POINTS
    users: dict[str, dict] = field(default_factory=lambda: {user.id: user.helix() for user in default_users()})
    chatters: dict[str, list[TwitchUser]] = field(default_factory=dict)  # broadcaster id → users in chat
    moderated: dict[str, list[TwitchUser]] = field(default_factory=lambda: {BOT.id: [BROADCASTER]})
    live: dict[str, int] = field(default_factory=dict)
    subscriptions: list[dict] = field(default_factory=list)
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)
    created: list[dict] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, dict, str]] = field(default_factory=list)  # method, path, query, token
    secrets: dict[str, str] = field(default_factory=dict)  # webhook subscription id → its secret
    on_create: Callable[[dict, str], None] | None = None  # runs before the reply (a fast challenge)
    verifier: Verifier | None = None  # runs after the reply, in a thread
    default_callback: str = ""  # of subscriptions `add` puts there without one
    sent: list[dict] = field(default_factory=list)
    drop_next: dict | None = None
    bot_users: set[str] = field(default_factory=set)  # granted user:bot
    bot_channels: set[str] = field(default_factory=set)  # broadcasters who granted channel:bot
    moderators: set[tuple[str, str]] = field(default_factory=set)  # (broadcaster, user)
    banned: set[tuple[str, str]] = field(default_factory=set)  # (broadcaster, user)
    conduits: dict[str, FakeConduit] = field(default_factory=dict)
    sessions: object = None  # a FakeEventSub: its WebSocket sessions serve conduit shards
    post_webhook: Callable[[str, dict, bytes], int] | None = None  # (callback, headers, body) → status
    url: str = ""  # once started
    _server: Server | None = None
    _turn: itertools.count = field(default_factory=itertools.count)
    _spent: dict[str, tuple[int, int]] = field(default_factory=dict)  # token → (minute, points spent)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self):
        self.router = Router()
        for method, path, handler in (
                ("GET", "/helix/users", self._users), ("GET", "/helix/chat/chatters", self._chatters),
                ("GET", "/helix/moderation/channels", self._moderated_channels),
                ("GET", "/helix/streams", self._streams), ("GET", "/helix/eventsub/subscriptions", self._list),
                ("POST", "/helix/eventsub/subscriptions", self._create),
                ("DELETE", "/helix/eventsub/subscriptions", self._delete)):
            self.router.add(method, path, handler)
        self._chat_and_conduit_routes()

    # --- serving and tokens ----------------------------------------------------------------------
    def start(self) -> FakeHelix:
        """Serve on a free port of 127.0.0.1 (Helix under /helix, the id server under /oauth2)."""
        self._ensure_id_server()
        self._server = Server(self)
        self.url = f"{self._server.url}/helix"
        self.id_server.base_url = f"{self._server.url}/oauth2"
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()

    def _ensure_id_server(self) -> FakeTwitchId:
        if self.id_server is None:
            self.id_server = FakeTwitchId(client_id=self.client_id, client_secret=self.client_secret,
                                          clock=self.clock)
        return self.id_server

    def user(self, user_id: str, login: str) -> None:
        """A Twitch account (GET /users, /oauth2/validate)."""
        account = TwitchUser(user_id, login.lower())
        self.users[user_id] = account.helix()
        self._ensure_id_server().users[user_id] = account

    def user_token(self, access: str, user_id: str, *scopes: str) -> None:
        """A user token (valid for ten years); from now on tokens are checked."""
        if user_id not in self._ensure_id_server().users:
            self.user(user_id, f"user{user_id}")
        self.id_server.tokens[access] = Token(access, user_id, scopes, self.clock() + REGISTERED_TOKEN_SECONDS)

    def app_token(self, access: str) -> None:
        self._ensure_id_server().tokens[access] = Token(access, None, (), self.clock() + REGISTERED_TOKEN_SECONDS)

    def _token(self, request: Request) -> Token:
        """The request's token (checked by `handle` when there is an id server)."""
        if self.id_server is None:
            return UNCHECKED
        return self.id_server.token_of(request.bearer()) or UNCHECKED

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path under /helix/) of every request received."""
        with self._lock:
            return [(method, path.removeprefix("/helix/")) for method, path, _, _ in self.calls]

    def subscriptions_of(self, event_type: str) -> list[dict]:
        with self._lock:
            return [item for item in self.subscriptions if item["type"] == event_type]

    # --- plumbing: auth, rate limits ---------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/oauth2/") and self.id_server is not None:
            return self.id_server.handle(request)
        token = request.bearer()
        with self._lock:
            self.calls.append((request.method, request.path, request.query, token))
            if request.header("Client-Id") != self.client_id:
                return twitch_error(401, "Client-Id header required" if not request.header("Client-Id")
                                    else "Client ID and OAuth token do not match")
            if not token:
                return twitch_error(401, "OAuth token is missing")
            if self.id_server is not None and self.id_server.token_of(token) is None:
                return twitch_error(401, "Invalid OAuth token")
            limit = self._take_point(token)
            if limit is None:
                return self._with_limits(twitch_error(429, "Too Many Requests"), token)
            response = self.router.dispatch(request, lambda r: twitch_error(404, f"no such endpoint {r.path}"))
            # a 429 that is not the bucket's (e.g. "websocket transports limit exceeded") says nothing of it
            return response if response.status == 429 else self._with_limits(response, token)

    def _take_point(self, token: str) -> int | None:
        minute = int(self.clock() // 60)
        spent_minute, spent = self._spent.get(token, (minute, 0))
        spent = spent if spent_minute == minute else 0
        if spent >= self.bucket_points:
            return None
        self._spent[token] = (minute, spent + 1)
        return spent + 1

    def _with_limits(self, response: Response, token: str) -> Response:
        minute, spent = self._spent.get(token, (int(self.clock() // 60), 0))
        response.headers.update({"Ratelimit-Limit": str(self.bucket_points),
                                 "Ratelimit-Remaining": str(max(0, self.bucket_points - spent)),
                                 "Ratelimit-Reset": str((minute + 1) * 60)})
        return response

    # --- users, chat, moderation, streams ------------------------------------------------------
    def _users(self, request: Request) -> Response:
        ids, logins = request.query.get("id", []), [login.lower() for login in request.query.get("login", [])]
        if len(ids) + len(logins) > 100:
            return twitch_error(400, "The request may specify a maximum of 100 id and login query parameters")
        if not ids and not logins:
            user_id = self._token(request).user_id
            if user_id is None:
                return twitch_error(400, "The id or login query parameter is required unless you use a user token")
            ids = [user_id]
        found = [user for user in self.users.values() if user["id"] in ids or user["login"] in logins]
        return json_response({"data": found})

    def _chatters(self, request: Request) -> Response:
        broadcaster, moderator = request.arg("broadcaster_id"), request.arg("moderator_id")
        if not broadcaster or not moderator:
            return twitch_error(400, "Missing required parameter \"broadcaster_id\" or \"moderator_id\"")
        present = self.chatters.get(broadcaster, [])
        first = min(int(request.arg("first", "100") or 100), 1000)
        start = int(request.arg("after", "0") or 0)
        page = present[start:start + first]
        cursor = {"cursor": str(start + first)} if start + first < len(present) else {}
        return json_response({"data": [{"user_id": user.id, "user_login": user.login, "user_name": user.display_name}
                                       for user in page], "pagination": cursor, "total": len(present)})

    def _moderated_channels(self, request: Request) -> Response:
        user_id = request.arg("user_id")
        if not user_id:
            return twitch_error(400, "Missing required parameter \"user_id\"")
        channels = self.moderated.get(user_id, [])
        return json_response({"data": [{"broadcaster_id": user.id, "broadcaster_login": user.login,
                                        "broadcaster_name": user.display_name} for user in channels],
                              "pagination": {}})

    def _streams(self, request: Request) -> Response:
        logins = {login.lower() for login in request.query.get("user_login", [])}
        ids = set(request.query.get("user_id", []))
        data = []
        for user in self.users.values():
            if user["login"] in self.live and (user["login"] in logins or user["id"] in ids or not (logins or ids)):
                data.append({"id": f"4000{user['id']}", "user_id": user["id"], "user_login": user["login"],
                             "user_name": user["display_name"], "game_id": "509658", "game_name": "Just Chatting",
                             "type": "live", "title": f"{user['display_name']} live in the sandbox",
                             "viewer_count": self.live[user["login"]], "started_at": "2024-01-01T00:00:00Z",
                             "language": "en", "thumbnail_url": "", "tag_ids": [], "tags": [], "is_mature": False})
        return json_response({"data": data, "pagination": {}})

    # --- eventsub/subscriptions ----------------------------------------------------------------
    def add(self, event_type: str, version: str, condition: dict, status: str = "enabled",
            callback: str = "", method: str = "webhook", session_id: str = "session-1") -> dict:
        """A subscription that already exists at Twitch."""
        transport = {"method": method, "callback": callback or self.default_callback} if method == "webhook" else {
            "method": method, "session_id": session_id}
        subscription = {"id": f"existing-{len(self.subscriptions)}", "status": status, "type": event_type,
                        "version": version, "cost": 0, "condition": condition, "transport": transport,
                        "created_at": "2024-01-01T00:00:00Z"}
        return self.add_subscription(subscription)

    def add_subscription(self, subscription: dict) -> dict:
        """A subscription object, as given, that already exists at Twitch."""
        with self._lock:
            self.subscriptions.append(subscription)
        return subscription

    def by_id(self) -> dict[str, dict]:
        with self._lock:
            return {item["id"]: item for item in self.subscriptions}

    def _list(self, request: Request) -> Response:
        wanted = {key: request.arg(key) for key in ("type", "status", "user_id") if request.arg(key)}
        items = [item for item in self.subscriptions
                 if wanted.get("type", item["type"]) == item["type"]
                 and wanted.get("status", item["status"]) == item["status"]
                 and ("user_id" not in wanted or wanted["user_id"] in item["condition"].values())]
        start = int(request.arg("after", "0") or 0)
        size = min(int(request.arg("first", str(self.page_size)) or self.page_size), self.page_size)
        more = start + size < len(items)
        return json_response({"data": items[start:start + size], "total": len(self.subscriptions),
                              "total_cost": sum(item["cost"] for item in self.subscriptions),
                              "max_total_cost": 10000, "pagination": {"cursor": str(start + size)} if more else {}})

    def _create(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not {"type", "version", "condition", "transport"} <= body.keys():
            return twitch_error(400, "type, version, condition and transport are required")
        self.created.append(body)
        if body["type"] in self.refusals:
            status, message = self.refusals[body["type"]]
            return twitch_error(status, message)
        refused = self._refusal(body, self._token(request))
        if refused is not None:
            return refused
        transport = {key: value for key, value in body["transport"].items() if key != "secret"}
        if any(item["type"] == body["type"] and item["version"] == body["version"]
               and item["condition"] == body["condition"] and item["transport"] == transport
               for item in self.subscriptions):
            return twitch_error(409, "subscription already exists")
        method = transport.get("method")
        webhook = method == "webhook"
        subscription = {"id": f"{ID_PREFIXES.get(method, method)}-{next(self._ids)}",
                        "status": PENDING if webhook else "enabled", "type": body["type"],
                        "version": body["version"], "cost": 1 if webhook else 0, "condition": body["condition"],
                        "transport": {**transport, "connected_at": format_timestamp()} if method == "websocket"
                        else transport, "created_at": format_timestamp()}
        if self.on_create is not None:
            self.on_create(subscription, body["transport"].get("secret", ""))
        self.subscriptions.append(subscription)
        if webhook:
            self.secrets[subscription["id"]] = body["transport"].get("secret", "")
        if webhook and self.verifier is not None:
            threading.Thread(target=self._verify, args=(subscription, body["transport"]["secret"]), daemon=True).start()
        return json_response({"data": [subscription], "total": len(self.subscriptions),
                              "total_cost": sum(item["cost"] for item in self.subscriptions),
                              "max_total_cost": 10000}, 202)

    def _refusal(self, body: dict, token: Token) -> Response | None:
        """Twitch's answer to a subscription it refuses for its transport, token or chat rules."""
        transport, condition = body["transport"], body["condition"]
        method, callback = transport.get("method"), str(transport.get("callback", ""))
        if method == "webhook" and not callback.startswith(("https://", "http://127.0.0.1")):
            return twitch_error(400, "The value in the callback field is not valid; use an HTTPS URL on port 443")
        if self.id_server is None:  # tokens are not known: nothing more to check
            return None
        if str(body["type"]).startswith("channel.chat."):
            if (condition.get("broadcaster_user_id"), condition.get("user_id")) in self.banned:
                return twitch_error(403, "The user in the condition is banned from the broadcaster's chat")
            refused = self.app_may_chat(condition.get("broadcaster_user_id"), condition.get("user_id")) \
                if token.user_id is None else ""
            if refused:
                return twitch_error(403, refused)
        if method == "websocket" and token.user_id is None:
            return twitch_error(400, "WebSocket transports require a user access token")
        if method == "conduit" and token.user_id is not None:
            return twitch_error(400, "Conduit transports require an app access token")
        if method == "conduit" and transport.get("conduit_id") not in self.conduits:
            return twitch_error(400, "The conduit was not found")
        return None

    def _verify(self, subscription: dict, secret: str) -> None:
        answered = self.verifier(subscription, secret)
        with self._lock:
            subscription["status"] = "enabled" if answered else "webhook_callback_verification_failed"

    def _delete(self, request: Request) -> Response:
        twitch_id = request.arg("id")
        if not twitch_id:
            return twitch_error(400, "Missing required parameter \"id\"")
        self.deleted.append(twitch_id)
        kept = [item for item in self.subscriptions if item["id"] != twitch_id]
        if len(kept) == len(self.subscriptions):
            return twitch_error(404, "subscription not found")
        self.subscriptions[:] = kept
        return empty(204)

    def enabled(self, event_type: str, broadcaster_id: str) -> list[dict]:
        """The enabled subscriptions that would deliver this channel's events of this type."""
        with self._lock:
            return [item for item in self.subscriptions if item["type"] == event_type and item["status"] == "enabled"
                    and broadcaster_id in (item["condition"].get("broadcaster_user_id"),
                                           item["condition"].get("to_broadcaster_user_id"))]
