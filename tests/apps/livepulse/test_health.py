import datetime

from apps.livepulse.health import check
from shared.db import utcnow
from tests.apps.livepulse.conftest import make_event


def test_not_configured_without_youtube_or_twitch_credentials(db):
    health = check()
    assert health.status == "not_configured" and "YT_API_KEY" in health.detail


def test_ok_then_degraded_when_streams_cannot_be_polled(db, configure):
    configure(YT_API_KEY="k")
    assert check().status == "ok"
    make_event(db)  # a YouTube and a Twitch stream
    db(db.lp_stream.id > 0).update(polled_at=utcnow())
    db.commit()
    health = check()
    assert health.status == "degraded" and "TWITCH_APP_ID" in health.detail and "YouTube" not in health.detail
    db(db.lp_stream.id > 0).update(polled_at=utcnow() - datetime.timedelta(hours=1))
    db.commit()
    assert "is the worker running?" in check().detail
