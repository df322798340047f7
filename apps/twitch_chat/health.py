"""Health of the chat module: is a bot configured, and what did the listener last report."""

from __future__ import annotations

from shared import tokens
from shared.db import get_db, utcnow
from shared.registry import Health
from shared.settings import get_settings

STALE_SECONDS = 180  # the listener reports at least every minute while it runs
TRANSPORT_NAMES = {"irc": "IRC", "eventsub": "EventSub"}


def _bot_problem() -> Health | None:
    """not_configured / needs_reauth from the bot accounts alone (no network)."""
    chat_bot = get_settings().chat_bot.lower()
    bots = tokens.list_bots()
    chosen = [bot for bot in bots if bot["name"].lower() == chat_bot] if chat_bot else bots[:1]
    if not chosen:
        missing = f"the bot account CHAT_BOT={chat_bot} does not exist" if chat_bot else "no bot account"
        return Health("not_configured", f"{missing}: run `waddlebot bots add NAME` or set TWITCH_USERNAME and "
                                        "TWITCH_OAUTH_TOKEN")
    if chosen[0].get("needs_relogin"):
        return Health("needs_reauth", f"needs re-login: the bot {chosen[0]['name']} must log in again")
    return None


def check() -> Health:
    problem = _bot_problem()
    if problem is not None:
        return problem
    db = get_db()
    row = db(db.chat_connection).select(orderby=~db.chat_connection.updated_at, limitby=(0, 1)).first()
    if row is None:
        return Health("degraded", "the chat listener has not reported yet (is the worker running?)")
    data = {"bot": row.bot, "state": row.status, "channels": row.channels or [], "transport": row.transport,
            "transport_reason": row.transport_reason}
    over = f" over {TRANSPORT_NAMES.get(row.transport, row.transport)} ({row.transport_reason})" if row.transport \
        else ""
    age = (utcnow() - row.updated_at).total_seconds()
    if row.status == "needs_reauth":
        return Health("needs_reauth", f"needs re-login: {row.detail}", data)
    if row.status == "not_configured":
        return Health("not_configured", row.detail, data)
    if age > STALE_SECONDS:
        return Health("degraded", f"no report from the chat listener for {age / 60:.0f} min (is the worker "
                                  "running?)", data)
    if row.status == "connected":
        return Health("ok", f"connected as {row.bot} in {len(data['channels'])} channel(s){over}", data)
    return Health("degraded", f"{row.status}: {row.detail}", data)
