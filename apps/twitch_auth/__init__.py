"""twitch_auth: Twitch OAuth in the browser, token lifecycle, app tokens and bot accounts."""

from . import activation, controllers  # noqa: F401  (activation registers the outbox deliverer)
