"""Twitch's chat rate limits, as the chat client counts them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Twitch's chat limits: messages per window (more where the bot moderates), the gap between
    two messages in a channel where it does not, and JOINs per window."""

    messages: int = 20
    moderator_messages: int = 100
    message_window: float = 30.0
    channel_gap: float = 1.0
    joins: int = 20
    join_window: float = 10.0
    message_ttl: float = 120.0


class SlidingWindow:
    """Counts events over the last `window` seconds of `clock`."""

    def __init__(self, window: float, clock: Callable[[], float]):
        self.window = window
        self.clock = clock
        self.events: deque[float] = deque()

    def wait(self, limit: int) -> float:
        """Seconds until one more event fits under `limit` (0 when it fits now)."""
        now = self.clock()
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) < limit:
            return 0.0
        return self.events[len(self.events) - limit] + self.window - now

    def record(self) -> None:
        self.events.append(self.clock())
