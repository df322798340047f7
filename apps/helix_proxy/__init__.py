"""helix_proxy: a rate-limited, cached, resilient proxy of the Twitch Helix API."""

from . import controllers  # noqa: F401
