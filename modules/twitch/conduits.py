"""EventSub conduits (Helix /eventsub/conduits and /eventsub/conduits/shards): request bodies and
answers, framework-free. Every conduit call takes the app token.

A conduit is a set of shards (ids "0" … shard_count-1); each shard is a WebSocket session or a
webhook. Subscriptions made with transport {"method": "conduit", "conduit_id": …} are spread by
Twitch over the enabled shards (a notification a shard fails to take is tried on one other).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONDUITS_PATH = "eventsub/conduits"
SHARDS_PATH = "eventsub/conduits/shards"
SHARD_DISABLED = "conduit.shard.disabled"
MAX_SHARDS = 20000


@dataclass(frozen=True)
class Conduit:
    id: str
    shard_count: int


@dataclass(frozen=True)
class Shard:
    """One shard as Twitch lists it: id, status ("enabled", "websocket_disconnected"…), transport."""

    id: str
    status: str
    method: str
    session_id: str | None = None
    callback: str | None = None


@dataclass(frozen=True)
class ShardError:
    """One shard Twitch refused to update (the answer is 202 with the others applied)."""

    id: str
    message: str
    code: str


def _count(shard_count: int) -> int:
    if not 1 <= shard_count <= MAX_SHARDS:
        raise ValueError(f"shard_count must be between 1 and {MAX_SHARDS}")
    return shard_count


def create_conduit_body(shard_count: int) -> bytes:
    """POST /eventsub/conduits."""
    return json.dumps({"shard_count": _count(shard_count)}).encode()


def update_conduit_body(conduit_id: str, shard_count: int) -> bytes:
    """PATCH /eventsub/conduits."""
    return json.dumps({"id": conduit_id, "shard_count": _count(shard_count)}).encode()


def websocket_shards_body(conduit_id: str, sessions: Mapping[str, str]) -> bytes:
    """PATCH /eventsub/conduits/shards: {shard id: WebSocket session id}."""
    shards = [{"id": shard_id, "transport": {"method": "websocket", "session_id": session_id}}
              for shard_id, session_id in sorted(sessions.items(), key=lambda item: int(item[0]))]
    return json.dumps({"conduit_id": conduit_id, "shards": shards}).encode()


def webhook_shards_body(conduit_id: str, callbacks: Mapping[str, tuple[str, str]]) -> bytes:
    """PATCH /eventsub/conduits/shards: {shard id: (callback URL, secret)}; Twitch signs what it
    sends there with the secret (10 to 100 characters) and calls back only https on port 443."""
    shards = [{"id": shard_id, "transport": {"method": "webhook", "callback": callback, "secret": secret}}
              for shard_id, (callback, secret) in sorted(callbacks.items(), key=lambda item: int(item[0]))]
    return json.dumps({"conduit_id": conduit_id, "shards": shards}).encode()


def conduit_transport(conduit_id: str) -> dict[str, str]:
    """The transport of a subscription made against a conduit."""
    return {"method": "conduit", "conduit_id": conduit_id}


def _data(body: bytes) -> list:
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        raise ValueError("not a Helix answer") from None
    if not isinstance(data, list):
        raise ValueError("a Helix answer without a data list")
    return data


def parse_conduits(body: bytes) -> list[Conduit]:
    """The answer of GET, POST or PATCH /eventsub/conduits."""
    return [Conduit(str(item["id"]), int(item["shard_count"])) for item in _data(body)
            if isinstance(item, Mapping) and item.get("id")]


def parse_shard(item: Mapping) -> Shard:
    transport = item.get("transport") if isinstance(item.get("transport"), Mapping) else {}
    return Shard(str(item.get("id")), str(item.get("status") or ""), str(transport.get("method") or ""),
                 transport.get("session_id"), transport.get("callback"))


def parse_shards(body: bytes) -> list[Shard]:
    """The `data` of GET or PATCH /eventsub/conduits/shards."""
    return [parse_shard(item) for item in _data(body) if isinstance(item, Mapping)]


def parse_shard_errors(body: bytes) -> list[ShardError]:
    """The `errors` of PATCH /eventsub/conduits/shards (shards Twitch did not update)."""
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [ShardError(str(error.get("id")), str(error.get("message") or ""), str(error.get("code") or ""))
            for error in errors if isinstance(error, Mapping)]


def shard_ids(shard_count: int) -> Iterable[str]:
    return (str(number) for number in range(shard_count))
