"""Set up the sandbox's database: migrated, the fake bot account stored (so chat and the EventSub
WebSocket transport work as with a real bot), and a one-time admin login link."""

from __future__ import annotations

import os

from modules.sandbox.stack import Sandbox
from modules.sandbox.world import BOT
from modules.twitch.oauth import TokenGrant, TokenInfo
from shared import tokens
from shared.adminauth import create_magic_link
from shared.db import get_db, migrate, reset_db, transaction
from shared.settings import get_settings, reset_settings

BOT_NAME = "main"


def store_bot(db, sandbox: Sandbox) -> None:
    """The bot account `main` (login waddlebot), with a token the fake Twitch issued and refreshes."""
    token = sandbox.id.issue(BOT.id, tokens.BOT_SCOPES)
    seconds = int(token.expires_at - sandbox.id.clock())
    tokens.store_bot_token(db, BOT_NAME, TokenGrant(token.access, seconds, token.refresh, token.scopes),
                           TokenInfo(sandbox.id.client_id, BOT.login, BOT.id, token.scopes, seconds))


def prepare(sandbox: Sandbox, environment: dict[str, str]) -> str:
    """Switch this process to the sandbox's environment, migrate, store the bot; a login link."""
    os.environ.update(environment)
    reset_settings()
    reset_db()  # the command group opened the configured database before this command ran
    settings = get_settings()
    migrate(settings)
    with transaction(get_db()) as db:
        store_bot(db, sandbox)
        return create_magic_link(db, settings)
