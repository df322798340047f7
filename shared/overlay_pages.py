"""The web side of overlay links: the admin page that creates and revokes them (one template for
every module, shared/templates/overlay_links.html) and the check an overlay route makes."""

from __future__ import annotations

from pathlib import Path

from py4web import action, request, response
from py4web.core import Template, redirect

from shared import overlay_links
from shared.fixtures import Page, admin, db, json_error
from shared.headers import allow_embedding
from shared.settings import get_settings

TEMPLATES = str(Path(__file__).parent / "templates")
OVERLAY_SHELL = str(Path(TEMPLATES) / "overlay.html")


class OverlayPage(Template):
    """An overlay's template: it starts with `[[extend overlay_shell]]`, the bare transparent page
    with the link's state line and the feed poller (shared/templates/overlay.html)."""

    def on_success(self, context):
        allow_embedding()  # a browser source in OBS, or a frame in another site's page
        context["template_inject"].update(overlay_shell=OVERLAY_SHELL, sandbox=get_settings().waddlebot_sandbox)
        super().on_success(context)


#: the admin page's template: `[[extend shell]]` like every page, kept in the core for every module
links_page_template = Page("overlay_links.html", path=TEMPLATES)
DEFAULT_DAYS = 365


def links_page(table, *, title: str, overlay_path: str, intro: str) -> dict:
    """GET: the links of `table`; POST: create one (400 with the reason when the form is unusable).
    `overlay_path` is the overlay's path without the token, e.g. /twitch_chat/overlay."""
    error, label, days = None, "", str(DEFAULT_DAYS)
    if request.method == "POST":
        label, days = request.forms.get("label") or "", (request.forms.get("days") or "").strip()
        try:
            overlay_links.create(table, label, days)
        except overlay_links.LinkError as err:
            response.status, error = 400, str(err)
        else:
            redirect(request.path)
    base = str(get_settings().public_url).rstrip("/") + overlay_path
    return {"page_title": title, "intro": intro, "error": error, "label": label, "days": days,
            "links": [{"link": link, "url": f"{base}/{link.token}" if link.token else None}
                      for link in overlay_links.links(table)]}


def revoke_and_return(table, link_id: int) -> None:
    """POST …/<id>/revoke from the admin page: revoke, then back to the page (404 if no such link)."""
    if not overlay_links.revoke(table, link_id):
        raise json_error(404, f"no active overlay link {link_id}: it may be revoked already")
    redirect(request.path.rsplit("/", 2)[0])


def admin_routes(path: str, table_name: str, *, title: str, overlay_path: str, intro: str) -> None:
    """Declare, in the app being loaded, the admin page `path` that lists, creates (POST) and
    revokes (POST path/<id>/revoke) the links of `table_name` to the overlay at `overlay_path`."""

    @action(path, method=["GET", "POST"])
    @action.uses(links_page_template, db, admin)
    def overlay_links():
        return links_page(db[table_name], title=title, overlay_path=overlay_path, intro=intro)

    @action(f"{path}/<link_id:int>/revoke", method=["POST"])
    @action.uses(db, admin)
    def revoke_overlay_link(link_id):
        revoke_and_return(db[table_name], link_id)


def overlay_page(table, token: str, feed: str) -> dict:
    """An overlay page's variables: the state of its link (the status says it too: 410, 404) and
    the URL of its feed."""
    state, message = link_state(table, token)
    return {"state": state, "message": message, "feed": feed}


def link_state(table, token: str) -> tuple[str, str]:
    """(state, message) of an overlay's link; the response status says it too (410, 404)."""
    state = overlay_links.check(table, token)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    if state != "active":
        response.status = overlay_links.STATE_STATUS[state]
    return state, overlay_links.STATE_MESSAGES.get(state, "")


def require_link(table, token: str) -> None:
    """An overlay feed's check: a JSON 410/404 naming the state unless the link is active."""
    state, message = link_state(table, token)
    if state != "active":
        raise json_error(overlay_links.STATE_STATUS[state], message, state=state)
