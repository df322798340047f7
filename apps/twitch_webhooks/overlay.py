"""The alerts overlay for OBS (follows, subs, cheers, raids): a page and its JSON feed opened by a
secret, revocable link (no cookie), and the admin page that creates and revokes those links."""

from __future__ import annotations

from py4web import action, request

from shared import overlay_pages
from shared.fixtures import db, json_error

from . import alerts

INTRO = ("The alerts overlay shows each follow, subscription, gifted sub, cheer and raid for a few seconds, "
         "one after the other, as the events arrive.")


overlay_pages.admin_routes("admin/alerts", "alert_overlay_link", title="Alerts overlay",
                          overlay_path="/twitch_webhooks/alerts", intro=INTRO)


@action("alerts/<token>", method=["GET"])
@action.uses(overlay_pages.OverlayPage("alerts.html"), db)
def alerts_overlay(token):
    return overlay_pages.overlay_page(db.alert_overlay_link, token, f"/twitch_webhooks/alerts/{token}/feed")


@action("alerts/<token>/feed", method=["GET"])
@action.uses(db)
def alerts_feed(token):
    """?after=<id>: the alerts since then, oldest first; without it none, only where "now" is."""
    overlay_pages.require_link(db.alert_overlay_link, token)
    after = request.query.get("after") or ""
    if not after:
        return {"alerts": [], "last_id": alerts.last_alert_id(db)}
    if not (after.isascii() and after.isdigit()):
        raise json_error(400, f"after: the last_id of the previous answer (digits), got {after!r}")
    found = alerts.alerts_after(db, int(after))
    return {"alerts": found, "last_id": found[-1]["id"] if found else int(after)}
