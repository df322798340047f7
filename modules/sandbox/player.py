"""Plays a scenario: at each entry's time (scaled by `speed`) simulated viewers follow, subscribe,
cheer, raid, chat, ask `!reco` and then submit their link on the page the bot answered with, like a
viewer in a browser; the Twitch and YouTube viewer counts follow the scenario's curves.

Time comes from an injectable clock and `tick()` does everything due, so a test plays a 30-minute
stream in a few calls without sleeping."""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from modules.sandbox.scenario import Entry, Scenario
from modules.sandbox.world import TwitchUser
from modules.twitch.eventsub import sample_event

RECO_ANSWER_WAIT = 120.0  # scenario seconds a viewer waits for the bot's link
_LINK = re.compile(r"https?://\S+/submit/\S+")


class Stage(Protocol):
    """What the player acts on: the fakes (or a test's recorder)."""

    def user(self, login: str) -> TwitchUser: ...
    def deliver(self, event_type: str, broadcaster: TwitchUser, event: dict) -> int: ...
    def chat(self, channel: str, user: TwitchUser, text: str) -> int: ...
    def bot_messages(self) -> list[str]: ...
    def submit(self, url: str, link: str) -> int | None: ...
    def set_twitch_viewers(self, login: str, viewers: int | None) -> None: ...
    def youtube_chat(self, video_id: str, author: str, text: str) -> None: ...


def twitch_event(event_type: str, broadcaster: TwitchUser, user: TwitchUser, extra: dict) -> dict:
    """The event as Twitch sends it, with this viewer and the entry's own fields."""
    seed = int(hashlib.sha256(f"{event_type}:{user.id}".encode()).hexdigest()[:8], 16)
    event = sample_event(event_type, broadcaster.id, broadcaster.login, rng=random.Random(seed),
                         anonymous=bool(extra.get("is_anonymous")))
    names = {"id": user.id, "login": user.login, "name": user.display_name}
    prefix = "from_broadcaster_user_" if event_type == "channel.raid" else "user_"
    if f"{prefix}id" in event and event[f"{prefix}id"] is not None:
        event.update({f"{prefix}{key}": value for key, value in names.items()})
    event.update(extra)
    return event


@dataclass
class Done:
    at: float
    what: str
    outcome: str

    def as_dict(self) -> dict:
        return {"at": round(self.at), "what": self.what, "outcome": self.outcome}


@dataclass
class Player:
    scenario: Scenario
    stage: Stage
    clock: Callable[[], float] = time.monotonic
    speed: float = 1.0
    started_at: float | None = None
    log: deque = field(default_factory=lambda: deque(maxlen=200))
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "delivered": 0, "undelivered": 0,
                                                            "submitted": 0})
    _next: int = 0
    _online: bool = False
    _waiting: list[tuple[Entry, float, int]] = field(default_factory=list)  # reco, asked at, bot lines seen
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def elapsed(self) -> float:
        """Scenario seconds played (0 before start, at most the duration)."""
        if self.started_at is None:
            return 0.0
        return min(self.scenario.duration, (self.clock() - self.started_at) * self.speed)

    @property
    def finished(self) -> bool:
        return self.elapsed >= self.scenario.duration and self._next >= len(self.scenario.timeline) \
            and not self._waiting

    @property
    def waiting_for_bot(self) -> int:
        """Viewers who typed !reco and have not had the bot's link yet."""
        return len(self._waiting)

    def start(self) -> None:
        self.started_at = self.clock()

    def viewers(self, video_id: str) -> int | None:
        """The current concurrent viewers of a scenario YouTube stream."""
        stream = next(item for item in self.scenario.youtube if item.video_id == video_id)
        return stream.viewers.at(self.elapsed)

    def tick(self) -> None:
        """Do everything due by now."""
        with self._lock:
            now = self.elapsed
            timeline = self.scenario.timeline
            while self._next < len(timeline) and timeline[self._next].at <= now:
                self._play(timeline[self._next], now)
                self._next += 1
            self._answer_recos(now)
            viewers = self.scenario.twitch_viewers.at(now) if self._online else None
            self.stage.set_twitch_viewers(self.scenario.channel, viewers)

    def _record(self, at: float, what: str, outcome: str) -> None:
        self.log.append(Done(at, what, outcome))
        self.counts["done"] += 1

    def _play(self, entry: Entry, now: float) -> None:
        if entry.action == "youtube_chat":  # a YouTube viewer, not a Twitch account
            self.stage.youtube_chat(entry.value, entry.user, str(entry.fields.get("text", "")))
            self._record(entry.at, entry.describe(), "posted")
            return
        anonymous = bool(entry.fields.get("is_anonymous"))
        user = TwitchUser("0", entry.user.lower()) if anonymous else self.stage.user(entry.user)
        broadcaster = self.stage.user(self.scenario.channel)
        if entry.action == "event":
            event = twitch_event(entry.value, broadcaster, user, entry.fields)
            delivered = self.stage.deliver(entry.value, broadcaster, event)
            self.counts["delivered" if delivered else "undelivered"] += 1
            outcome = f"delivered to {delivered} subscription(s)" if delivered else "no enabled subscription"
            if entry.value in ("stream.online", "stream.offline"):
                self._online = entry.value == "stream.online"
            self._record(entry.at, entry.describe(), outcome)
        elif entry.action == "chat":
            heard = self.stage.chat(self.scenario.channel, user, entry.value)
            self._record(entry.at, entry.describe(), f"heard by {heard} connection(s)")
        else:
            comment = str(entry.fields.get("comment", "")).strip()
            seen = len(self.stage.bot_messages())  # before asking: the bot may answer at once
            heard = self.stage.chat(self.scenario.channel, user, f"!reco {comment}".strip())
            self._waiting.append((entry, now, seen))
            self._record(entry.at, f"{entry.user}: !reco {comment}".strip(), f"heard by {heard} connection(s)")

    def _answer_recos(self, now: float) -> None:
        messages = self.stage.bot_messages()
        still = []
        for entry, asked_at, seen in self._waiting:
            mention = f"@{entry.user.lower()}"
            reply = next((text for text in messages[seen:] if text.lower().startswith(mention)
                          and _LINK.search(text)), None)
            if reply is not None:
                status = self.stage.submit(_LINK.search(reply).group(0), entry.value)
                self.counts["submitted"] += status is not None and status < 400
                self._record(now, entry.describe(), f"submitted on the bot's page ({status})")
            elif now - asked_at > RECO_ANSWER_WAIT or now >= self.scenario.duration:
                self._record(now, entry.describe(), "the bot did not answer with a link")
            else:
                still.append((entry, asked_at, seen))
        self._waiting = still

    def run(self, stop: threading.Event, step: float = 0.5) -> None:
        """Play in real time (scaled by speed) until the scenario ends or `stop` is set."""
        if self.started_at is None:
            self.start()
        while not stop.is_set() and not self.finished:
            self.tick()
            stop.wait(step)
        self.tick()

    def status(self) -> dict:
        """Progress for the sandbox page."""
        with self._lock:
            return {"name": self.scenario.name, "channel": self.scenario.channel,
                    "started": self.started_at is not None, "duration": self.scenario.duration, "speed": self.speed,
                    "elapsed": round(self.elapsed), "entries": len(self.scenario.timeline), "played": self._next,
                    "finished": self.finished, "counts": dict(self.counts),
                    "twitch_viewers": self.scenario.twitch_viewers.at(self.elapsed),
                    "youtube": {item.video_id: item.viewers.at(self.elapsed) for item in self.scenario.youtube},
                    "log": [item.as_dict() for item in list(self.log)[-40:]][::-1]}
