"""The fake Helix's chat and conduit side: POST /chat/messages (is_sent / drop_reason),
/eventsub/conduits and /eventsub/conduits/shards (WebSocket and webhook shards), with Twitch's rule
for the app token in chat (user:bot from the user; channel:bot from the broadcaster, or the user a
moderator of the channel).

With `sessions` (a FakeEventSub with auto=True) it also plays EventSub's side of a conduit:
`deliver` sends an event of a conduit subscription to one enabled shard (round robin) and, when
that shard's socket is gone, disables the shard, notifies `conduit.shard.disabled` and tries one
other enabled shard, as Twitch does; `session_closed` disables a shard whose socket ended. A
webhook shard gets the event signed with its secret through `post_webhook(callback, headers, body)
-> HTTP status`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from modules.sandbox.web import Request, Response, json_response, twitch_error
from modules.twitch.eventsub import NOTIFICATION, signed_message

MAX_CONDUITS = 5
SHARD_RANGE = "shard_count must be between 1 and 20000"


@dataclass
class FakeConduit:
    id: str
    shard_count: int
    shards: dict[str, dict] = field(default_factory=dict)  # shard id → {status, transport[, secret]}


class ChatAndConduits:
    """Mixed into FakeHelix, whose fields it uses: sent, drop_next, bot_users, bot_channels,
    moderators, conduits, sessions, post_webhook, subscriptions, _turn, _lock."""

    def _chat_and_conduit_routes(self) -> None:
        for method, path, handler in (
                ("POST", "/helix/chat/messages", self._send_message),
                ("GET", "/helix/eventsub/conduits", self._list_conduits),
                ("POST", "/helix/eventsub/conduits", self._create_conduit),
                ("PATCH", "/helix/eventsub/conduits", self._update_conduit),
                ("GET", "/helix/eventsub/conduits/shards", self._list_shards),
                ("PATCH", "/helix/eventsub/conduits/shards", self._update_shards)):
            self.router.add(method, path, handler)

    # --- chat -----------------------------------------------------------------------------------
    def _send_message(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return twitch_error(400, "The request body must be a JSON object")
        for name in ("broadcaster_id", "sender_id", "message"):
            if not body.get(name):
                return twitch_error(400, f"Missing required parameter \"{name}\"")
        token = self._token(request)
        if token.user_id is None:
            refused = self.app_may_chat(body["broadcaster_id"], body["sender_id"])
            if refused:
                return twitch_error(403, refused)
        elif "user:write:chat" not in token.scopes:
            return twitch_error(401, "Missing scope: user:write:chat")
        elif body["sender_id"] != token.user_id:
            return twitch_error(403, "The sender is not permitted to send chat messages to the broadcaster's "
                                     "chat room.")
        if len(body["message"]) > 500:
            return twitch_error(422, "The message is too large")
        drop, self.drop_next = self.drop_next, None
        self.sent.append({**body, "is_sent": drop is None, "app_token": token.user_id is None})
        return json_response({"data": [{"message_id": str(uuid.uuid4()) if drop is None else "",
                                        "is_sent": drop is None, "drop_reason": drop}]})

    def app_may_chat(self, broadcaster_id: str | None, user_id: str | None) -> str:
        """Why the app token may not chat as this user in this channel ('' when it may)."""
        if user_id not in self.bot_users:
            return "The user has not authorized the app with the user:bot scope"
        if broadcaster_id not in self.bot_channels and (broadcaster_id, user_id) not in self.moderators:
            return "The broadcaster has not authorized the app with the channel:bot scope and the user is not a " \
                   "moderator"
        return ""

    # --- conduits -------------------------------------------------------------------------------
    def _conduit_json(self, conduit: FakeConduit) -> dict:
        return {"id": conduit.id, "shard_count": conduit.shard_count}

    def _app_only(self, request: Request) -> Response | None:
        return twitch_error(401, "An app access token is required") if self._token(request).user_id else None

    def _list_conduits(self, request: Request) -> Response:
        refused = self._app_only(request)
        return refused or json_response({"data": [self._conduit_json(item) for item in self.conduits.values()]})

    def _create_conduit(self, request: Request) -> Response:
        refused = self._app_only(request)
        if refused:
            return refused
        body = request.json() or {}
        count = body.get("shard_count") if isinstance(body, dict) else None
        if not isinstance(count, int) or not 1 <= count <= 20000:
            return twitch_error(400, SHARD_RANGE)
        if len(self.conduits) >= MAX_CONDUITS:
            return twitch_error(429, "The client has reached the maximum number of conduits")
        conduit = FakeConduit(str(uuid.uuid4()), count)
        self.conduits[conduit.id] = conduit
        return json_response({"data": [self._conduit_json(conduit)]})

    def _update_conduit(self, request: Request) -> Response:
        refused = self._app_only(request)
        if refused:
            return refused
        body = request.json() or {}
        conduit = self.conduits.get(body.get("id")) if isinstance(body, dict) else None
        if conduit is None:
            return twitch_error(404, "Conduit not found")
        count = body.get("shard_count")
        if not isinstance(count, int) or not 1 <= count <= 20000:
            return twitch_error(400, SHARD_RANGE)
        conduit.shard_count = count
        conduit.shards = {shard_id: shard for shard_id, shard in conduit.shards.items() if int(shard_id) < count}
        return json_response({"data": [self._conduit_json(conduit)]})

    def _shard_json(self, shard_id: str, shard: dict) -> dict:
        return {"id": shard_id, "status": shard["status"], "transport": shard["transport"]}

    def _list_shards(self, request: Request) -> Response:
        refused = self._app_only(request)
        if refused:
            return refused
        conduit = self.conduits.get(request.arg("conduit_id"))
        if conduit is None:
            return twitch_error(404, "Conduit not found")
        shards = [self._shard_json(str(number), conduit.shards.get(str(number)) or {
            "status": "websocket_disconnected", "transport": {"method": "websocket", "session_id": ""}})
            for number in range(conduit.shard_count)]
        return json_response({"data": shards, "pagination": {}})

    def _update_shards(self, request: Request) -> Response:
        refused = self._app_only(request)
        if refused:
            return refused
        body = request.json() or {}
        conduit = self.conduits.get(body.get("conduit_id")) if isinstance(body, dict) else None
        if conduit is None:
            return twitch_error(404, "Conduit not found")
        updated, errors = [], []
        for shard in body.get("shards") or []:
            shard_id, transport = str(shard.get("id")), shard.get("transport") or {}
            problem = self._shard_problem(conduit, shard_id, transport)
            if problem:
                errors.append({"id": shard_id, "message": problem[1], "code": problem[0]})
                continue
            if transport.get("method") == "webhook":
                conduit.shards[shard_id] = {"status": "enabled", "secret": transport["secret"],
                                            "transport": {"method": "webhook", "callback": transport["callback"]}}
            else:
                conduit.shards[shard_id] = {"status": "enabled", "transport": transport}
            updated.append(self._shard_json(shard_id, conduit.shards[shard_id]))
        return json_response({"data": updated, "errors": errors}, 202)

    def _shard_problem(self, conduit: FakeConduit, shard_id: str, transport: dict) -> tuple[str, str] | None:
        """(code, message) of Twitch's refusal of this shard update, or None."""
        if not shard_id.isdigit() or int(shard_id) >= conduit.shard_count:
            return "invalid_parameter", "The shard id is outside the conduit's range"
        if transport.get("method") == "webhook" and not (
                str(transport.get("callback", "")).startswith("https://")
                and 10 <= len(transport.get("secret") or "") <= 100):
            return "invalid_parameter", "The webhook callback must be https and the secret 10 to 100 characters"
        if transport.get("method") == "websocket" and (
                self.sessions is None or not self.sessions.has_session(transport.get("session_id"))):
            return "websocket_session_not_found", "The websocket session was not found"
        return None

    # --- EventSub's side of a conduit -----------------------------------------------------------
    def _enabled_shards(self, conduit: FakeConduit) -> list[str]:
        return [shard_id for shard_id, shard in sorted(conduit.shards.items()) if shard["status"] == "enabled"]

    def _send_to_shard(self, conduit: FakeConduit, shard_id: str, subscription: dict, event: dict,
                       message_id: str) -> bool:
        shard = conduit.shards[shard_id]
        if shard["transport"]["method"] == "webhook":
            headers, body = signed_message(shard["secret"], NOTIFICATION, {"subscription": subscription,
                                                                          "event": event}, message_id)
            if self.post_webhook is not None and 200 <= self.post_webhook(shard["transport"]["callback"], headers,
                                                                          body) < 300:
                return True
            self._disable(conduit, shard_id, "notification_failures_exceeded")
            return False
        connection = self.sessions.sessions.get(shard["transport"].get("session_id")) if self.sessions else None
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
        with self._lock:
            [subscription] = [sub for sub in self.subscriptions_of(event_type)
                              if sub["transport"].get("method") == "conduit"]
            return message_id, self.deliver_to_conduit(subscription, event, message_id)

    def deliver_to_conduit(self, subscription: dict, event: dict, message_id: str | None = None) -> str | None:
        """The shard that took this conduit subscription's event, or None when no shard could."""
        message_id = message_id or str(uuid.uuid4())
        with self._lock:
            conduit = self.conduits.get(subscription["transport"]["conduit_id"])
            enabled = self._enabled_shards(conduit) if conduit else []
            if not enabled:
                return None
            first = enabled[next(self._turn) % len(enabled)]
            if self._send_to_shard(conduit, first, subscription, event, message_id):
                return first
            others = [shard_id for shard_id in self._enabled_shards(conduit) if shard_id != first]
            if others and self._send_to_shard(conduit, others[0], subscription, event, message_id):
                return others[0]
            return None

    def session_closed(self, session_id: str) -> None:
        """A WebSocket ended: the shard it served is disabled."""
        with self._lock:
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
            for other in self._enabled_shards(conduit):
                if self._send_to_shard(conduit, other, subscription, event, str(uuid.uuid4())):
                    break

    def shard_statuses(self, conduit_id: str) -> dict[str, tuple[str, str | None]]:
        """{shard id: (status, session id)}."""
        with self._lock:
            return {shard_id: (shard["status"], shard["transport"].get("session_id"))
                    for shard_id, shard in self.conduits[conduit_id].shards.items()}
