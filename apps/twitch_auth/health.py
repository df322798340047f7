"""Health of twitch_auth: degraded while an account needs a person to log in again (no network)."""

from __future__ import annotations

from shared.db import get_db
from shared.registry import Health
from shared.tokens import accounts_needing_relogin, login_path


def _remedy(account: dict) -> str:
    if account["bot"]:
        return f"bot {account['bot']} ({account['login']}) → waddlebot bots add {account['bot']}"
    return f"{account['login']} → {login_path(account['scopes'])}"


def check() -> Health:
    db = get_db()
    stuck = accounts_needing_relogin()
    data = {"users": db(db.twitch_token.bot_name == None).count(),  # noqa: E711
            "bots": db(db.twitch_token.bot_name != None).count(),  # noqa: E711
            "needs_relogin": [account["login"] for account in stuck]}
    if stuck:
        return Health("degraded", "needs re-login: " + "; ".join(_remedy(account) for account in stuck), data)
    return Health("ok", f"{data['users']} accounts, {data['bots']} bots", data)
