"""Admin home, login (password and magic link), /health and /metrics."""

import hmac
from pathlib import Path

from py4web import action, request, response
from py4web.core import redirect

from shared import outbox
from shared.adminauth import (
    COOKIE,
    LoginThrottled,
    check_password,
    consume_magic_link,
    cookie_options,
    end_session,
    safe_next,
    session_token,
)
from shared.fixtures import Page, admin, client_address, db, is_admin, json_error
from shared.health import system_health
from shared.metrics import render as render_metrics
from shared.openapi import document as openapi_document
from shared.settings import get_settings

from .setup import checklist, headline, with_code

FAVICON = Path(__file__).parent / "static" / "favicon.ico"


def _start_session() -> None:
    secure = request.urlparts.scheme == "https"
    response.set_cookie(COOKIE, session_token(), **cookie_options(secure))


@action("index", method=["GET"])
@action.uses(Page("home.html"), db, admin)
def index():
    healthy, report = system_health()
    activities = db(db.activity).select(orderby=~db.activity.id, limitby=(0, 20))
    dead = db(db.outbox.status == "dead").select(orderby=~db.outbox.id, limitby=(0, 20))
    steps = checklist(db, get_settings())
    return {"report": report, "headline": headline(healthy, report), "counts": outbox.counts(db),
            "activities": activities, "dead": dead, "steps": steps, "steps_left": sum(not s.done for s in steps),
            "code": with_code}


@action("login", method=["GET", "POST"])
@action.uses(Page("login.html"))
def login():
    target = safe_next(request.query.get("next") or request.forms.get("next"))
    if request.method == "GET":
        return {"error": None, "next": target}
    try:
        ok = check_password(request.forms.get("password") or "", client_address())
    except LoginThrottled as err:
        response.status = 429
        return {"error": f"Too many attempts: {err}.", "next": target}
    if not ok:
        response.status = 401
        return {"error": "Wrong password.", "next": target}
    _start_session()
    redirect(target)


@action("logout", method=["POST"])
@action.uses(db)
def logout():
    end_session(db, request.get_cookie(COOKIE))
    response.delete_cookie(COOKIE, path="/")
    redirect("/login")


@action("auth/magic/<token>", method=["GET"])
@action.uses(Page("message.html"), db)
def magic(token):
    problem = consume_magic_link(db, token)
    if problem:
        response.status = 410
        return {"title": "Login link not usable", "message": problem}
    _start_session()
    redirect("/")


@action("health", method=["GET"])
@action.uses(db)
def health():
    """Up or degraded (200/503) for anyone; the components and modules for an admin."""
    healthy, report = system_health()
    response.status = 200 if healthy else 503
    return report if is_admin() else {"status": report["status"]}


@action("openapi.json", method=["GET"])
def openapi():
    """The OpenAPI document of every module's JSON routes."""
    return openapi_document()


@action("metrics", method=["GET"])
@action.uses(db)
def metrics():
    """Prometheus metrics; with METRICS_TOKEN set, for `Authorization: Bearer <token>` or an admin."""
    token = get_settings().metrics_token
    if token and not (is_admin() or hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                                        f"Bearer {token}".encode())):
        raise json_error(401, "metrics need Authorization: Bearer <METRICS_TOKEN> (or an admin)")
    body, content_type = render_metrics()
    response.headers["Content-Type"] = content_type
    return body


@action("favicon.ico", method=["GET"])
def favicon():
    """Browsers ask every site for /favicon.ico."""
    response.headers.update({"Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400"})
    return FAVICON.read_bytes()


@action("outbox/<outbox_id:int>/retry", method=["POST"])
@action.uses(db, admin)
def retry_outbox(outbox_id):
    if not outbox.retry(db, outbox_id):
        raise json_error(404, f"no dead outbox row {outbox_id}")
    redirect("/")
