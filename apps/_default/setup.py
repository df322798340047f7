"""The admin home's first-run guidance: what is set up, what to do next, and status words that say
what is true (a system with nothing configured is not "healthy")."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from yatl.helpers import XML

from shared import tokens
from shared.registry import provided_page
from shared.settings import Settings

_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    next: str  # what to do, with `code` spans; empty when done
    link: tuple[str, str] | None = None  # (label, path) of the page that does it


def with_code(text: str) -> XML:
    """Text whose `backticked` parts are shown as code (everything escaped)."""
    return XML(_CODE.sub(lambda match: f"<code>{match.group(1)}</code>", html.escape(text or "", quote=False)))


def checklist(db, settings: Settings) -> list[Step]:
    """The four steps from a fresh install to activities reaching WaddleBot."""
    app = bool(settings.twitch_app_id and settings.twitch_app_secret)
    bots = tokens.list_bots()
    channel = db(db.twitch_channel.active == True).count() > 0  # noqa: E712
    channels_page = provided_page("channels")
    return [
        Step("Twitch application", app,
             "Register an application in the Twitch developer console, put its client id and secret in "
             "`.env` as `TWITCH_APP_ID` and `TWITCH_APP_SECRET`, then restart."),
        Step("Bot account", bool(bots),
             "Run `.venv/bin/waddlebot bots add NAME` with the Twitch account that should talk in chat."),
        Step("First channel", channel, "Add the Twitch channel to follow: its events and chat start flowing.",
             ("Channels", channels_page) if channels_page and app else None),
        Step("Reputation API", bool(settings.reputation_api_url),
             "Set `REPUTATION_API_URL` (and `CONTEXT_API_URL`) in `.env`: until then activities are kept "
             "here and not forwarded to WaddleBot."),
    ]


def headline(healthy: bool, report: dict) -> tuple[str, str, str]:
    """(css class, status word, sentence) for the top of the home page."""
    modules = report["modules"].values()
    ready = sum(module["status"] == "ready" for module in modules)
    down = [name for name, part in report["components"].items() if part["status"] != "ok"]
    failed = [module["title"] for module in modules if module["status"] == "failed"]
    counted = f"{ready} of {len(modules)} modules ready"
    if down or failed:
        problems = [f"{name} down" for name in down] + [f"{title} failed" for title in failed]
        return "bad", "Needs attention", f"{', '.join(problems)}; {counted}."
    if ready < len(modules):
        return "warn", "Needs setting up", f"{counted}: the others say below what they need."
    return "ok", "Running", f"{counted}; database and worker up."
