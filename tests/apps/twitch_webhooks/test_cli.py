"""`waddlebot event …`: the simulator sends Twitch-shaped, signed messages to a real server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from shared.cli import main
from tests.apps.twitch_webhooks.webhook_fakes import SECRET, WEBHOOK, webhook_settings


@pytest.fixture
def run(configure, live_server, db):
    webhook_settings(configure)

    def invoke(*args: str):
        return CliRunner().invoke(main, ["event", *args])

    return invoke


def _stored(db) -> tuple[int, int]:
    db.rollback()
    return db(db.eventsub_event).count(), db(db.activity).count()


def test_trigger_sends_signed_notifications(run, live_server, db):
    result = run("trigger", "channel.cheer", "--to", live_server + WEBHOOK, "--count", "3")
    assert result.exit_code == 0, result.output
    assert result.output.count(" stored") == 3
    assert _stored(db) == (3, 3)
    assert {row.event_type for row in db(db.eventsub_event).select()} == {"channel.cheer"}


def test_trigger_with_a_fixed_id_sends_duplicates(run, live_server, db):
    result = run("trigger", "channel.follow", "--to", live_server + WEBHOOK, "--id", "fixed-id-1", "--count", "2")
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("200 ")] == [
        "200 fixed-id-1 stored", "200 fixed-id-1 duplicate"]
    assert _stored(db) == (1, 1)


@pytest.mark.parametrize("args", [["--timestamp", "2020-01-01T00:00:00Z"], ["--secret", "a-wrong-secret-123"]])
def test_trigger_reports_refused_messages(run, live_server, db, args):
    result = run("trigger", "channel.raid", "--to", live_server + WEBHOOK, *args)
    assert result.exit_code == 1 and "1 of 1 notifications were refused" in result.output
    sent = [line for line in result.output.splitlines() if line.startswith("403 ")]
    assert len(sent) == 1 and ("signature does not match" in sent[0] or "seconds away" in sent[0])
    assert _stored(db) == (0, 0)


def test_trigger_anonymous_gift(run, live_server, db):
    assert run("trigger", "channel.subscription.gift", "--to", live_server + WEBHOOK, "--anonymous").exit_code == 0
    activity = db(db.activity).select().first()
    assert activity.user_id is None and activity.points % 60 == 0 and activity.points > 0


def test_trigger_without_any_secret_is_a_usage_error(run, configure, live_server, db):
    configure(TWITCH_WEBHOOK_SECRET="")
    result = run("trigger", "channel.follow", "--to", live_server + WEBHOOK)
    assert result.exit_code == 2 and "--secret" in result.output


def test_verify_subscription_checks_the_challenge_reply(run, live_server, db):
    result = run("verify-subscription", "--to", live_server + WEBHOOK, "--type", "channel.ban",
                 "--subscription-id", "sub-42")
    assert result.exit_code == 0, result.output
    assert "subscription sub-42 (channel.ban) would be enabled" in result.output
    db.rollback()
    assert db(db.eventsub_subscription.twitch_id == "sub-42").select().first().status == "enabled"
    wrong = run("verify-subscription", "--to", live_server + "/twitch_webhooks/events")
    assert wrong.exit_code == 1 and "not answered as Twitch requires" in wrong.output


def test_revoke_marks_the_subscription(run, live_server, db):
    result = run("revoke", "--to", live_server + WEBHOOK, "--reason", "version_removed", "--subscription-id", "sub-7",
                 "--secret", SECRET)
    assert result.exit_code == 0, result.output
    db.rollback()
    row = db(db.eventsub_subscription.twitch_id == "sub-7").select().first()
    assert (row.status, row.revoked_reason) == ("revoked", "version_removed")
