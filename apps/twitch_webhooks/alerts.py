"""Stream alerts from the stored EventSub events: follows, subs, gifted subs, cheers and raids,
each as one line the alerts overlay shows."""

from __future__ import annotations

ALERT_TYPES = ("channel.follow", "channel.subscribe", "channel.subscription.message",
               "channel.subscription.gift", "channel.cheer", "channel.raid")
BATCH = 20


def _tier(event: dict) -> str:
    tier = str(event.get("tier") or "1000")
    return f"Tier {tier[0]}" if tier in ("1000", "2000", "3000") else "Prime"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def describe(event_type: str, event: dict) -> dict:
    """{kind, who, text}: who did it and what to say about it."""
    who = event.get("user_name") or event.get("user_login")
    if event_type == "channel.follow":
        return {"kind": "follow", "who": who, "text": "just followed!"}
    if event_type == "channel.subscribe":
        return {"kind": "sub", "who": who, "text": f"subscribed ({_tier(event)})!"}
    if event_type == "channel.subscription.message":
        months = int(event.get("cumulative_months") or 1)
        return {"kind": "sub", "who": who, "text": f"resubscribed: {_plural(months, 'month')}!"}
    if event_type == "channel.subscription.gift":
        count = int(event.get("total") or 1)
        return {"kind": "gift", "who": who or "An anonymous gifter",
                "text": f"gifted {_plural(count, f'{_tier(event)} sub')}!"}
    if event_type == "channel.cheer":
        bits = int(event.get("bits") or 0)
        return {"kind": "cheer", "who": who or "Anonymous", "text": f"cheered {_plural(bits, 'bit')}!"}
    if event_type == "channel.raid":
        viewers = int(event.get("viewers") or 0)
        raider = event.get("from_broadcaster_user_name") or event.get("from_broadcaster_user_login")
        return {"kind": "raid", "who": raider, "text": f"is raiding with {_plural(viewers, 'viewer')}!"}
    raise ValueError(f"{event_type} is not an alert")


def last_alert_id(db) -> int:
    top = db.eventsub_event.id.max()
    return db(db.eventsub_event.event_type.belongs(ALERT_TYPES)).select(top).first()[top] or 0


def alerts_after(db, after: int) -> list[dict]:
    """The alerts after event id `after`, oldest first (at most BATCH)."""
    table = db.eventsub_event
    rows = db((table.id > after) & table.event_type.belongs(ALERT_TYPES)).select(
        table.id, table.event_type, table.event, orderby=table.id, limitby=(0, BATCH))
    return [{"id": row.id, **describe(row.event_type, row.event or {})} for row in rows]
