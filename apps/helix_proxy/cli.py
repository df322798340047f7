"""`waddlebot helix-proxy`: the Helix proxy as its own service, as the seed ran it."""

from __future__ import annotations

import logging

import click

from shared.helix.client import BURST_SECONDS
from shared.settings import get_settings
from shared.web import serve

APP = __package__.rsplit(".", 1)[-1]
log = logging.getLogger(f"apps.{APP}")


@click.command("helix-proxy")
@click.option("--host", default=None, help="address to listen on (default HOST)")
@click.option("--port", default=None, type=int, help="port to listen on (default APP_PORT, else PORT)")
def helix_proxy(host: str | None, port: int | None) -> None:
    """Serve only the Helix proxy, its seed routes also bare (/healthz, /users, /chatters, /moderated-channels)."""
    settings = get_settings()
    rate = settings.rate_limit_requests_per_second
    log.info("Helix proxy: rate %g requests/s per bucket, burst %g, waits up to %g s for quota", rate,
             BURST_SECONDS * rate, settings.rate_limit_max_wait_s)
    serve(host or settings.host, port or settings.app_port or settings.port, settings, apps=[APP])


commands = [helix_proxy]
