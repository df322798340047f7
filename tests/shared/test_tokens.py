"""The token service: user tokens (refresh ahead of expiry, single flight, rejection), scopes,
encryption at rest, bot accounts."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import threading
import time

import portalocker
import pytest
import requests
import responses

from shared import redis_client, tokens
from shared.crypto import encrypt
from shared.db import get_db, is_postgres, utcnow
from shared.registry import NeedsReauth, NotConfigured, NotReady
from shared.settings import get_settings
from tests.apps.twitch_auth.twitch_fakes import (
    ID_URL,
    expire_soon,
    store_bot,
    store_user,
    token_body,
    token_calls,
    twitch_settings,
)


@pytest.fixture
def twitch(configure, db):
    twitch_settings(configure)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_fresh_token_is_returned_without_calling_twitch(twitch, db):
    store_user(db)
    assert tokens.get_user_token("1234", ["user:read:email"]) == "access-old-0001"
    assert len(twitch.calls) == 0


def test_a_token_near_expiry_is_refreshed_and_the_rotated_refresh_token_saved(twitch, db):
    store_user(db)
    expire_soon(db, "user:1234")
    twitch.post(f"{ID_URL}/token", json=token_body("access-new-0001", "refresh-new-0001"))
    assert tokens.get_user_token("1234") == "access-new-0001"
    assert "refresh_token=refresh-old-0001" in twitch.calls[0].request.body
    twitch.replace(responses.POST, f"{ID_URL}/token", json=token_body("access-new-0002", "refresh-new-0002"))
    expire_soon(db, "user:1234")
    assert tokens.get_user_token("1234") == "access-new-0002"
    assert "refresh_token=refresh-new-0001" in twitch.calls[1].request.body  # the rotated one was stored


def run_together(count: int, func) -> tuple[list, list]:
    """Call func in `count` threads released at the same moment: (results, errors)."""
    start, results, errors = threading.Barrier(count), [], []

    def run():
        try:
            start.wait()
            results.append(func())
        except Exception as err:  # collected: an exception in a thread would be lost
            errors.append(err)
        finally:
            get_db()._adapter.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def slow_refresh(request):
    """Twitch answering a refresh after 0.2 s: long enough for every other thread to look."""
    time.sleep(0.2)
    return 200, {}, json.dumps(token_body("access-new-0001"))


def test_twenty_threads_share_one_refresh(twitch, db):
    store_user(db)
    expire_soon(db, "user:1234")
    twitch.add_callback(responses.POST, f"{ID_URL}/token", callback=slow_refresh)
    results, errors = run_together(20, lambda: tokens.get_user_token("1234"))
    assert errors == []
    assert results == ["access-new-0001"] * 20
    assert len(token_calls(twitch)) == 1


def test_concurrent_401_reports_share_one_refresh(twitch, db):
    store_user(db)
    twitch.add_callback(responses.POST, f"{ID_URL}/token", callback=slow_refresh)
    results, errors = run_together(10, lambda: tokens.report_unauthorized("1234", rejected_token="access-old-0001"))
    assert errors == []
    assert results == ["access-new-0001"] * 10
    assert len(token_calls(twitch)) == 1


def test_a_401_report_without_the_token_always_refreshes(twitch, db):
    store_user(db)
    twitch.post(f"{ID_URL}/token", json=token_body("access-new-0001", "refresh-new-0001"))
    assert tokens.report_unauthorized("1234") == "access-new-0001"
    twitch.replace(responses.POST, f"{ID_URL}/token", json=token_body("access-new-0002", "refresh-new-0002"))
    assert tokens.report_unauthorized("1234") == "access-new-0002"
    assert len(token_calls(twitch)) == 2


@contextlib.contextmanager
def another_process_refreshing(db, account: str):
    """Hold the lock another process would hold while refreshing (Redis lock, PostgreSQL row lock
    or SQLite file lock); yields finish(token), which stores that process's new token."""
    expires_at = utcnow() + datetime.timedelta(hours=4)
    client = redis_client.get_redis()
    if client is None and is_postgres(db):
        import psycopg2

        other = psycopg2.connect(get_settings().database_url)
        cursor = other.cursor()
        cursor.execute("SELECT id FROM twitch_token WHERE account = %s FOR UPDATE", (account,))

        def finish(token: str) -> None:
            cursor.execute("UPDATE twitch_token SET access_token = %s, expires_at = %s, version = version + 1"
                           " WHERE account = %s", (encrypt(token), expires_at, account))
            other.commit()

        try:
            yield finish
        finally:
            other.close()
        return
    if client is not None:
        lock = client.lock(redis_client.key("lock", "token", account), timeout=60, thread_local=False)
    else:
        lock = portalocker.Lock(str(tokens.refresh_lock_file(account)))
    lock.acquire()

    def finish(token: str) -> None:
        table = db.twitch_token
        db(table.account == account).update(access_token=encrypt(token), expires_at=expires_at,
                                            version=table.version + 1)
        db.commit()
        lock.release()

    yield finish


def test_a_refresh_by_another_process_is_waited_for_not_repeated(twitch, db):
    store_user(db)
    expire_soon(db, "user:1234")
    twitch.post(f"{ID_URL}/token", json=token_body("access-never-used"))
    result = []
    with another_process_refreshing(db, "user:1234") as finish:
        thread = threading.Thread(target=lambda: (result.append(tokens.get_user_token("1234")),
                                                  db._adapter.close()))
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the other process
        finish("access-from-other-0001")
        thread.join()
    assert result == ["access-from-other-0001"]
    assert len(token_calls(twitch)) == 0


def test_a_rejected_refresh_token_marks_the_account_for_a_new_login(twitch, db):
    store_user(db)
    twitch.post(f"{ID_URL}/token", status=400, json={"status": 400, "message": "Invalid refresh token"})
    with pytest.raises(NeedsReauth, match="alice.*/twitch_auth/login"):
        tokens.report_unauthorized("1234")
    row = db(db.twitch_token.account == "user:1234").select().first()
    assert row.needs_relogin and not row.valid
    with pytest.raises(NeedsReauth):
        tokens.get_user_token("1234")
    assert len(token_calls(twitch)) == 1  # no more calls once Twitch said no


@pytest.mark.parametrize("failure", [requests.ConnectionError("down"), 503])
def test_twitch_down_during_a_refresh_is_retryable_and_changes_nothing(twitch, db, failure):
    store_user(db)
    expire_soon(db, "user:1234")
    if failure == 503:
        twitch.post(f"{ID_URL}/token", status=503, body="unavailable")
    else:
        twitch.post(f"{ID_URL}/token", body=failure)
    with pytest.raises(NotReady, match="could not refresh"):
        tokens.get_user_token("1234")
    row = db(db.twitch_token.account == "user:1234").select().first()
    assert row.version == 1 and not row.needs_relogin


def test_a_missing_scope_names_the_scope_and_the_login_url(twitch, db):
    store_user(db, scopes=("user:read:email",))
    with pytest.raises(tokens.MissingScope) as err:
        tokens.get_user_token("1234", ["user:read:email", "moderator:read:chatters"])
    assert err.value.scope == "moderator:read:chatters"
    assert err.value.login_url == ("http://127.0.0.1:8000/twitch_auth/login?"
                                   "scopes=moderator%3Aread%3Achatters+user%3Aread%3Aemail")
    assert "moderator:read:chatters" in str(err.value) and err.value.login_url in str(err.value)
    assert isinstance(err.value, ValueError)


def test_an_unknown_user_is_a_lookup_error(twitch, db):
    with pytest.raises(tokens.UnknownAccount):
        tokens.get_user_token("777")
    assert issubclass(tokens.UnknownAccount, LookupError)


def test_tokens_are_encrypted_in_every_column_and_kept_out_of_the_logs(twitch, db, caplog):
    caplog.set_level(logging.DEBUG)
    store_user(db, access="rawaccesstoken0123456789", refresh="rawrefreshtoken0123456789")
    expire_soon(db, "user:1234")
    twitch.post(f"{ID_URL}/token", json=token_body("rawaccesstoken-new-9876", "rawrefreshtoken-new-9876"))
    tokens.get_user_token("1234")
    rows = db.executesql("SELECT * FROM twitch_token")
    dump = repr(rows)
    for secret in ("rawaccesstoken", "rawrefreshtoken"):
        assert secret not in dump
        assert secret not in caplog.text
    assert "refreshed the Twitch token of alice" in caplog.text  # the log did record the refresh


def test_the_status_never_shows_a_token(twitch, db):
    store_user(db)
    status = tokens.user_status("1234")
    assert status["login"] == "alice" and status["authenticated"] and status["scopes"]
    assert "access-old-0001" not in repr(status) and "refresh-old-0001" not in repr(status)


def test_a_stored_bot_is_returned_and_refreshed(twitch, db):
    store_bot(db)
    bot = tokens.get_bot("main")
    assert (bot.name, bot.login, bot.user_id, bot.token) == ("main", "waddlebot", "999", "bot-access-0001")
    assert "bot-access-0001" not in repr(bot)
    assert tokens.get_bot() == bot  # the only bot account is the default
    twitch.post(f"{ID_URL}/token", json=token_body("bot-access-0002", "bot-refresh-0002", scopes=tokens.BOT_SCOPES))
    assert tokens.refresh_bot("main").token == "bot-access-0002"
    assert tokens.get_bot("main").token == "bot-access-0002"


def test_the_static_bot_comes_from_the_settings(configure, db):
    twitch_settings(configure, TWITCH_USERNAME="StaticBot", TWITCH_OAUTH_TOKEN="oauth:statictoken12345")
    bot = tokens.get_bot()
    assert (bot.name, bot.login, bot.user_id, bot.token) == ("staticbot", "staticbot", None, "statictoken12345")
    assert tokens.get_bot("staticbot") == bot
    with pytest.raises(NeedsReauth, match="TWITCH_OAUTH_TOKEN"):
        tokens.refresh_bot("staticbot")
    assert tokens.list_bots() == [{"name": "staticbot", "login": "staticbot", "user_id": None, "scopes": [],
                                   "valid": True, "needs_relogin": False, "static": True}]


def test_no_bot_at_all_is_not_configured(configure, db):
    twitch_settings(configure)
    with pytest.raises(NotConfigured, match="waddlebot bots add"):
        tokens.get_bot()
    with pytest.raises(NotConfigured, match="bots add other"):
        tokens.get_bot("other")


def test_list_bots_shows_state_but_no_token(twitch, db):
    store_bot(db)
    [bot] = tokens.list_bots()
    assert {key: bot[key] for key in ("name", "login", "user_id", "valid", "needs_relogin", "static")} == {
        "name": "main", "login": "waddlebot", "user_id": "999", "valid": True, "needs_relogin": False,
        "static": False}
    assert bot["scopes"] == sorted(tokens.BOT_SCOPES) or set(bot["scopes"]) == set(tokens.BOT_SCOPES)
    assert "bot-access-0001" not in repr(bot) and "bot-refresh-0001" not in repr(bot)


def test_bot_names_are_checked():
    assert tokens.check_bot_name("Main_Bot-2") == "main_bot-2"
    with pytest.raises(ValueError, match="bot name"):
        tokens.check_bot_name("no spaces")
