"""The recommendation overlay for OBS: a page and its JSON feed opened by a secret, revocable link
(no cookie), and the admin page that creates and revokes those links."""

from __future__ import annotations

from py4web import action
from py4web.core import redirect

from apps.twitch_chat import reco
from shared import overlay_pages
from shared.fixtures import db

SHOWN = 5  # accepted recommendations on screen at once: fits a 1080p scene's side column
INTRO = ("The recommendation overlay shows the last accepted recommendations, updated as you accept, "
         "play or reject them in the queue.")


overlay_pages.admin_routes("overlays", "reco_overlay_link", title="Recommendation overlay",
                          overlay_path="/twitch_chat/overlay", intro=INTRO)


@action("overlay", method=["GET"])
def overlay_without_link():
    """The overlay opens through a link made on the admin page (OBS has no admin cookie)."""
    redirect("/twitch_chat/overlays")


@action("overlay/<token>", method=["GET"])
@action.uses(overlay_pages.OverlayPage("overlay.html"), db)
def overlay(token):
    return overlay_pages.overlay_page(db.reco_overlay_link, token, f"/twitch_chat/overlay/{token}/feed")


@action("overlay/<token>/feed", method=["GET"])
@action.uses(db)
def overlay_feed(token):
    """What the overlay shows: the latest accepted recommendations (no viewer comment, no ids)."""
    overlay_pages.require_link(db.reco_overlay_link, token)
    rows = reco.list_recommendations(db, status="accepted", limit=SHOWN)
    return {"recommendations": [{"title": row.title or row.url, "thumbnail_url": row.thumbnail_url,
                                 "user": row.user_name or row.user_login, "platform": row.platform}
                                for row in rows]}
