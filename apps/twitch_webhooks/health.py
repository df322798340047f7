"""Health of the EventSub module: configured, and how its subscriptions are doing (no network)."""

from __future__ import annotations

from apps.twitch_webhooks.eventsub.helix import callback_url
from apps.twitch_webhooks.hub.service import health_data
from shared.db import get_db
from shared.registry import Health
from shared.settings import get_settings

#: Twitch statuses of a subscription that no longer delivers (revoked ones are marked "revoked")
FAILING = ("revoked", "webhook_callback_verification_failed", "notification_failures_exceeded",
           "authorization_revoked", "moderator_removed", "user_removed", "version_removed")


def subscription_counts(db) -> dict[str, int]:
    table = db.eventsub_subscription
    count = table.id.count()
    return {row.eventsub_subscription.status: row[count]
            for row in db(table).select(table.status, count, groupby=table.status)}


def check() -> Health:
    db = get_db()
    hub = health_data(db)
    if not get_settings().twitch_webhook_secret:
        return Health("not_configured", "set TWITCH_WEBHOOK_SECRET (10 to 100 characters) to receive webhooks",
                      {"hub": hub})
    counts = subscription_counts(db)
    data = {"subscriptions": counts, "callback": callback_url(), "hub": hub}
    failing = sum(count for status, count in counts.items() if status in FAILING)
    if failing:
        return Health("degraded", f"{failing} subscription(s) revoked or failing: see /twitch_webhooks/admin", data)
    return Health("ok", f"{counts.get('enabled', 0)} subscription(s) enabled", data)
