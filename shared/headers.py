"""Security headers on every answer, and the scheme users reach us at (PUBLIC_URL).

Pages may only be framed by this site unless their route says otherwise (allow_embedding: the
OBS overlay, the LivePulse dashboard); scripts, styles and forms come from this site; images
may come from any https site (thumbnails)."""

from __future__ import annotations

from urllib.parse import urlsplit

from py4web import response

from shared.settings import get_settings

CSP = ("default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
EMBEDDABLE_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Content-Security-Policy": CSP}
#: py4web's own dashboard loads scripts from CDNs and inline: it gets every header but the CSP
NO_CSP_PREFIXES = ("/_dashboard",)


def allow_embedding() -> None:
    """This answer (a page meant for OBS or another site's iframe) may be framed anywhere."""
    response.headers["Content-Security-Policy"] = EMBEDDABLE_CSP


def security_headers(app):
    """WSGI middleware: HEADERS on every answer that does not set its own; X-Frame-Options DENY
    where the page may not be framed; an https PUBLIC_URL makes the request https (Secure cookies)."""

    def wrapped(environ, start_response):
        if urlsplit(get_settings().public_url).scheme == "https":
            environ["wsgi.url_scheme"] = "https"
        path = environ.get("PATH_INFO", "")

        def with_headers(status, headers, exc_info=None):
            present = {name.lower(): value for name, value in headers}
            extra = [(name, value) for name, value in HEADERS.items() if name.lower() not in present
                     and not (name == "Content-Security-Policy" and path.startswith(NO_CSP_PREFIXES))]
            policy = present.get("content-security-policy", "" if path.startswith(NO_CSP_PREFIXES) else CSP)
            if "frame-ancestors *" not in policy and "x-frame-options" not in present:
                extra.append(("X-Frame-Options", "DENY"))
            return start_response(status, headers + extra, exc_info)

        return app(environ, with_headers)

    return wrapped
