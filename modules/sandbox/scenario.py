"""Scenarios: what simulated viewers do during a stream, read from a small JSON file.

    {"name": "…", "duration": 1800, "channel": "waddle_streamer",
     "twitch_viewers": [[0, 20], [900, 400], [1800, 80]],          # [second, viewers] points
     "youtube": [{"video_id": "sbxCoStrmA1", "title": "…", "channel": "…", "viewers": [[0, 50], …]}],
     "timeline": [{"at": 30, "event": "channel.follow", "user": "penguin_pat"},
                  {"at": 60, "chat": "hello!", "user": "krill_kim"},
                  {"at": 90, "reco": "https://youtu.be/dQw4w9WgXcQ", "user": "krill_kim", "comment": "chill"},
                  {"at": 95, "youtube_chat": "sbxCoStrmA1", "user": "Anna", "text": "hi from YouTube"}]}

An event entry may carry the event's own fields (tier, bits, total, viewers, is_anonymous…).
Viewer curves are straight lines between their points with a little deterministic wobble."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT = Path(__file__).parent / "scenarios" / "default.json"
ACTIONS = ("event", "chat", "reco", "youtube_chat")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message says where and what to fix."""


@dataclass(frozen=True)
class Curve:
    points: tuple[tuple[float, int], ...]
    seed: str = ""

    def at(self, second: float) -> int:
        """Viewers at this second: the line between the two nearest points, ±3 % wobble."""
        points = self.points
        if second <= points[0][0]:
            base = points[0][1]
        elif second >= points[-1][0]:
            base = points[-1][1]
        else:
            (t0, v0), (t1, v1) = next((a, b) for a, b in itertools.pairwise(points) if a[0] <= second <= b[0])
            base = v0 + (v1 - v0) * (second - t0) / ((t1 - t0) or 1)
        digest = hashlib.sha256(f"{self.seed}:{int(second) // 15}".encode()).digest()
        wobble = (digest[0] / 255 - 0.5) * 0.06
        return max(0, round(base * (1 + wobble)))

    @property
    def peak(self) -> int:
        return max(value for _, value in self.points)


@dataclass(frozen=True)
class YouTubeStream:
    video_id: str
    title: str
    channel: str
    viewers: Curve


@dataclass(frozen=True)
class Entry:
    at: float
    action: str  # one of ACTIONS
    user: str
    value: str  # event type, chat text, reco link, or video id
    fields: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.action == "event":
            return f"{self.value} by {self.user}"
        if self.action == "reco":
            return f"{self.user} recommends {self.value}"
        if self.action == "youtube_chat":
            return f"{self.user} on YouTube {self.value}: {self.fields.get('text', '')}"
        return f"{self.user}: {self.value}"


@dataclass(frozen=True)
class Scenario:
    name: str
    duration: float
    channel: str
    twitch_viewers: Curve
    youtube: tuple[YouTubeStream, ...]
    timeline: tuple[Entry, ...]


def _curve(value: object, where: str, seed: str) -> Curve:
    if not isinstance(value, list) or not value or not all(
            isinstance(point, list) and len(point) == 2 and all(isinstance(x, int | float) for x in point)
            and point[1] >= 0 for point in value):
        raise ScenarioError(f"{where}: a list of [second, viewers] pairs, e.g. [[0, 10], [600, 250]]")
    return Curve(tuple(sorted((float(at), int(viewers)) for at, viewers in value)), seed)


def _entry(source: str, index: int, item: object) -> Entry:
    where = f"{source}: timeline[{index}]"
    if not isinstance(item, dict):
        raise ScenarioError(f"{where}: an object like {{\"at\": 30, \"event\": \"channel.follow\", \"user\": …}}")
    actions = [name for name in ACTIONS if name in item]
    if len(actions) != 1:
        raise ScenarioError(f"{where}: exactly one of {', '.join(ACTIONS)}")
    at, user = item.get("at"), item.get("user")
    if not isinstance(at, int | float) or at < 0:
        raise ScenarioError(f"{where}.at: seconds from the start (a number ≥ 0)")
    if not isinstance(user, str) or not user:
        raise ScenarioError(f"{where}.user: the viewer's login")
    action = actions[0]
    value = item[action]
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}.{action}: a non-empty string")
    fields = {key: item[key] for key in item if key not in (action, "at", "user")}
    return Entry(float(at), action, user, value, fields)


def parse(data: object, source: str = "scenario") -> Scenario:
    """A Scenario from decoded JSON; ScenarioError naming the field to fix."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a JSON object with name, duration, timeline")
    duration = data.get("duration")
    if not isinstance(duration, int | float) or duration <= 0:
        raise ScenarioError(f"{source}: duration: the stream's length in seconds (> 0)")
    streams = []
    for index, item in enumerate(data.get("youtube") or []):
        if not isinstance(item, dict) or not isinstance(item.get("video_id"), str):
            raise ScenarioError(f"{source}: youtube[{index}]: an object with video_id, title, channel, viewers")
        streams.append(YouTubeStream(item["video_id"], str(item.get("title") or item["video_id"]),
                                     str(item.get("channel") or "Sandbox"),
                                     _curve(item.get("viewers"), f"{source}: youtube[{index}].viewers",
                                            item["video_id"])))
    timeline = data.get("timeline")
    if not isinstance(timeline, list):
        raise ScenarioError(f"{source}: timeline: a list of entries")
    entries = sorted((_entry(source, index, item) for index, item in enumerate(timeline)), key=lambda entry: entry.at)
    return Scenario(name=str(data.get("name") or source), duration=float(duration),
                    channel=str(data.get("channel") or "waddle_streamer").lower(),
                    twitch_viewers=_curve(data.get("twitch_viewers") or [[0, 0]], f"{source}: twitch_viewers",
                                          "twitch"),
                    youtube=tuple(streams), timeline=tuple(entries))


def load(path: Path | str = DEFAULT) -> Scenario:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ScenarioError(f"{path}: cannot be read ({err.strerror})") from None
    except ValueError as err:
        raise ScenarioError(f"{path}: not JSON ({err})") from None
    return parse(data, path.name)

