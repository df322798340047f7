"""System health: database, Redis (when configured), worker heartbeat, and every module."""

from __future__ import annotations

import datetime

from shared import redis_client
from shared.db import get_db, rollback, utcnow
from shared.registry import discover, module_status
from shared.settings import Settings, get_settings


def _database() -> dict:
    db = get_db()
    try:
        db.executesql("SELECT 1")
    except Exception as err:
        rollback(db)
        return {"status": "down", "detail": err.__class__.__name__}
    return {"status": "ok", "engine": db._dbname}


def _redis() -> dict | None:
    client = redis_client.get_redis()
    if client is None:
        return None
    try:
        client.ping()
    except Exception as err:
        return {"status": "down", "detail": err.__class__.__name__}
    return {"status": "ok"}


def _worker(settings: Settings) -> dict:
    db = get_db()
    try:
        row = db(db.worker_heartbeat).select(orderby=~db.worker_heartbeat.beat_at, limitby=(0, 1)).first()
    except Exception as err:
        rollback(db)
        return {"status": "down", "detail": err.__class__.__name__}
    if row is None:
        return {"status": "down", "detail": "no worker has reported"}
    age = (utcnow() - row.beat_at).total_seconds()
    fresh = age <= max(30, 6 * settings.worker_heartbeat_seconds)
    services = row.services or {}
    return {"status": "ok" if fresh else "down", "last_beat_seconds_ago": round(age, 1),
            "workers": db(db.worker_heartbeat.beat_at >= utcnow() - datetime.timedelta(seconds=60)).count(),
            "services": {name: info.get("state") for name, info in services.items()}}


def system_health(settings: Settings | None = None) -> tuple[bool, dict]:
    """(healthy, report). Healthy when the database, Redis if configured and a worker are up, and
    no module failed. Modules that are merely not configured do not make the system unhealthy."""
    settings = settings or get_settings()
    components = {"database": _database(), "worker": _worker(settings)}
    redis_state = _redis()
    if redis_state is not None:
        components["redis"] = redis_state
    modules = {manifest.name: module_status(manifest, settings) for manifest in discover()}
    healthy = all(part["status"] == "ok" for part in components.values()) and all(
        module["status"] not in ("failed", "not_migrated") for module in modules.values())
    return healthy, {"status": "ok" if healthy else "degraded", "components": components, "modules": modules}
