"""The conduit's admin page: the transport in use, the conduit and who serves each shard."""

from __future__ import annotations

from py4web import action

from apps.twitch_webhooks.queries import iso
from shared.fixtures import Page, admin, db
from shared.settings import get_settings


@action("admin/conduit", method=["GET"])
@action.uses(Page("conduit.html"), db, admin)
def conduit_page():
    conduit = db(db.eventsub_conduit).select(orderby=~db.eventsub_conduit.id, limitby=(0, 1)).first()
    shards = []
    if conduit is not None:
        table = db.eventsub_conduit_shard
        rows = db(table.conduit_id == conduit.conduit_id).select()
        shards = [{"id": row.shard_id, "status": row.status, "worker": row.worker_id or "", "session": row.session_id
                   or "", "detail": row.detail or "", "updated_at": iso(row.updated_at)}
                  for row in sorted(rows, key=lambda row: int(row.shard_id))]
    subscriptions = db(db.eventsub_subscription.transport_method == "conduit").count()
    return {"title": "EventSub conduit", "transport": get_settings().eventsub_transport,
            "conduit": {"id": conduit.conduit_id, "shard_count": conduit.shard_count,
                        "updated_at": iso(conduit.updated_at)} if conduit else None,
            "shards": shards, "subscriptions": subscriptions}
