"""Security headers on every answer, the scheme users reach us at (PUBLIC_URL), and state changes
by browsers only from our own pages (Origin check).

Pages may only be framed by this site unless their route says otherwise (allow_embedding: the
OBS overlay, the LivePulse dashboard); scripts, styles and forms come from this site; images
may come from any https site (thumbnails), and in the sandbox from its local fakes (SANDBOX_URL)."""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import urlsplit

from py4web import response

from shared.settings import get_settings

CSP = ("default-src 'self'; img-src 'self' https: data:{images}; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
DEFAULT_CSP_ABSENT = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
#: py4web's own dashboard loads scripts from CDNs and inline: it gets every header but the CSP
NO_CSP_PREFIXES = ("/_dashboard",)


@lru_cache(maxsize=4)
def _is_https(public_url: str) -> bool:
    return urlsplit(public_url).scheme == "https"


@lru_cache(maxsize=4)
def _csp(sandbox_url: str, embeddable: bool) -> str:
    policy = CSP.format(images=f" {_origin(sandbox_url)}" if sandbox_url else "")
    return policy.replace("frame-ancestors 'none'", "frame-ancestors *") if embeddable else policy


def content_security_policy(embeddable: bool = False) -> str:
    settings = get_settings()
    return _csp(settings.sandbox_url if settings.waddlebot_sandbox else "", embeddable)


def allow_embedding() -> None:
    """This answer (a page meant for OBS or another site's iframe) may be framed anywhere."""
    response.headers["Content-Security-Policy"] = content_security_policy(embeddable=True)


def security_headers(app):
    """WSGI middleware: DEFAULT headers on every answer that does not set its own; X-Frame-Options DENY
    where the page may not be framed; an https PUBLIC_URL makes the request https (Secure cookies)."""

    def wrapped(environ, start_response):
        if _is_https(get_settings().public_url):
            environ["wsgi.url_scheme"] = "https"
        without_csp = environ.get("PATH_INFO", "").startswith(NO_CSP_PREFIXES)

        def with_headers(status, headers, exc_info=None):
            names = {name.lower() for name, _ in headers}
            defaults = DEFAULT_CSP_ABSENT if without_csp else (
                *DEFAULT_CSP_ABSENT, ("Content-Security-Policy", content_security_policy()))
            extra = [header for header in defaults if header[0].lower() not in names]
            framable = any(name.lower() == "content-security-policy" and "frame-ancestors *" in value
                           for name, value in headers)
            if not framable and "x-frame-options" not in names:
                extra.append(("X-Frame-Options", "DENY"))
            return start_response(status, headers + extra, exc_info)

        return app(environ, with_headers)

    return wrapped


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port and port != default else "")


def our_origins(environ: dict) -> set[str]:
    """PUBLIC_URL's origin and the one the browser addressed (scheme + Host), as a browser writes them."""
    origins = {_origin(get_settings().public_url)}
    host = environ.get("HTTP_HOST")
    if host:
        origins.add(_origin(f"{environ.get('wsgi.url_scheme', 'http')}://{host}"))
    return {origin for origin in origins if origin}


def same_origin_only(app):
    """WSGI middleware against cross-site request forgery: a state-changing request that carries
    cookies (so a browser's, possibly sent by another site's page, even a sibling subdomain's or
    another port's) must come from one of our_origins by its Origin header (else Referer); 403
    otherwise. Scripts and services send no cookies and are not concerned."""

    def wrapped(environ, start_response):
        if environ.get("REQUEST_METHOD") in UNSAFE_METHODS and environ.get("HTTP_COOKIE"):
            claimed = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
            if claimed is not None and _origin(claimed) not in our_origins(environ):
                body = json.dumps({"error": "Forbidden", "status": 403, "message": (
                    f"a request from {claimed[:100]!r} may not change anything here: use this site's own pages, "
                    "or send no cookies (X-Admin-Key)")}).encode()
                start_response("403 Forbidden", [("Content-Type", "application/json"),
                                                 ("Content-Length", str(len(body)))])
                return [body]
        return app(environ, start_response)

    return wrapped
