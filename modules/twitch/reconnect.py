"""What the Twitch WebSocket clients (chat, EventSub) share: reconnect backoff, state reporting."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

log = logging.getLogger(__name__)


def exponential_backoff(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before reconnect number `attempt` (0-based): doubling from `base`, capped
    at `cap`, with jitter over the upper half so that many clients do not reconnect in step."""
    ceiling = min(cap, base * 2 ** attempt)
    return random.uniform(ceiling / 2, ceiling)


class StateReporter:
    """Keeps `.state` and `.detail` and tells the optional `_on_state(state, detail)` callback."""

    _on_state: Callable[[str, str], None] | None = None
    state = "stopped"
    detail = ""

    def _set_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        if self._on_state is not None:
            try:
                self._on_state(state, detail)
            except Exception:  # reporting must never break the connection
                log.exception("%s state callback failed", type(self).__name__)
