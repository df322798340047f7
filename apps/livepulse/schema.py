"""livepulse: events, their streams, viewer samples (event totals and per stream), 5-minute
roll-ups, the YouTube quota ledger and CSV export jobs.

Sample times (`ts`) are integer Unix seconds (UTC): range scans, bucketing (ts / 300) and
keyset paging stay plain integer arithmetic on both SQLite and PostgreSQL."""

from pydal import Field

STREAM_STATES = ("live", "unknown", "ended", "unavailable", "offline")
EXPORT_STATES = ("queued", "running", "done", "failed")

INDEXES = [
    ("lp_stream", "lp_stream_ref_uq", ("event_id", "platform", "external_id"), True),
    ("lp_sample", "lp_sample_event_ts_uq", ("event_id", "ts"), True),
    ("lp_stream_sample", "lp_stream_sample_event_ts_idx", ("event_id", "ts")),
    ("lp_stream_sample", "lp_stream_sample_stream_ts_uq", ("event_id", "stream_id", "ts"), True),
    ("lp_rollup", "lp_rollup_series_uq", ("event_id", "stream_id", "ts"), True),
    # covering: wide history windows and their statistics read the roll-ups from the index alone
    ("lp_rollup", "lp_rollup_values_idx", ("event_id", "stream_id", "ts", "max_viewers", "avg_viewers", "seconds")),
    ("lp_quota", "lp_quota_day_uq", ("day",), True),
    ("lp_export_job", "lp_export_job_uq", ("job_id",), True),
    ("lp_export_job", "lp_export_job_state_idx", ("state", "created_at")),
]


def define(db) -> None:
    db.define_table(
        "lp_event",
        Field("name", "string", length=200, notnull=True),
        Field("description", "text"),
        Field("created_at", "datetime", notnull=True),
        Field("updated_at", "datetime", notnull=True),
        # bumped to revoke every public dashboard link given so far
        Field("public_version", "integer", notnull=True, default=1),
        # roll-ups are complete before this ts; raw samples before raw_from were purged
        Field("rolled_until", "bigint"),
        Field("raw_from", "bigint"),
    )
    db.define_table(
        "lp_stream",
        Field("event_id", "reference lp_event", ondelete="CASCADE", notnull=True),
        Field("platform", "string", length=16, notnull=True),  # youtube | twitch
        Field("external_id", "string", length=64, notnull=True),  # video id | login
        Field("title", "string", length=300),
        Field("channel_title", "string", length=200),
        Field("state", "string", length=16, notnull=True, default="unknown"),
        Field("viewers", "integer"),
        Field("polled_at", "datetime"),
        Field("created_at", "datetime", notnull=True),
    )
    db.define_table(
        "lp_sample",
        Field("event_id", "reference lp_event", ondelete="CASCADE", notnull=True),
        Field("ts", "bigint", notnull=True),
        Field("viewers", "integer"),  # sum of the known counts; NULL when no count was known
        Field("live_streams", "integer", notnull=True, default=0),
        Field("unknown_streams", "integer", notnull=True, default=0),
    )
    db.define_table(
        "lp_stream_sample",
        Field("event_id", "reference lp_event", ondelete="CASCADE", notnull=True),
        Field("stream_id", "reference lp_stream", ondelete="CASCADE", notnull=True),
        Field("ts", "bigint", notnull=True),
        Field("viewers", "integer"),  # NULL = unknown (hidden count, not started, unavailable)
        Field("state", "string", length=16, notnull=True),
    )
    db.define_table(
        "lp_rollup",
        Field("event_id", "reference lp_event", ondelete="CASCADE", notnull=True),
        Field("stream_id", "bigint", notnull=True),  # 0 = the event total
        Field("ts", "bigint", notnull=True),  # bucket start, a multiple of 300
        Field("max_viewers", "integer", notnull=True),
        Field("avg_viewers", "double", notnull=True),  # time-weighted
        Field("seconds", "integer", notnull=True),  # time the known counts cover in the bucket
    )
    db.define_table(
        "lp_quota",
        Field("day", "string", length=10, notnull=True),  # Pacific date, YYYY-MM-DD
        Field("units", "integer", notnull=True, default=0),
        Field("paused_until", "bigint"),  # after quotaExceeded: the next Pacific midnight
        Field("last_error", "string", length=500),
        Field("updated_at", "datetime", notnull=True),
    )
    db.define_table(
        "lp_export_job",
        Field("job_id", "string", length=64, notnull=True),
        Field("event_id", "reference lp_event", ondelete="CASCADE", notnull=True),
        Field("kind", "string", length=16, notnull=True),  # total | streams | stream
        Field("stream_id", "bigint"),
        Field("from_ts", "bigint", notnull=True),
        Field("to_ts", "bigint", notnull=True),
        Field("state", "string", length=16, notnull=True, default="queued"),
        Field("progress", "double", notnull=True, default=0),
        Field("row_count", "bigint", notnull=True, default=0),
        Field("file_name", "string", length=255),
        Field("error", "string", length=500),
        Field("created_at", "datetime", notnull=True),
        Field("started_at", "datetime"),
        Field("updated_at", "datetime"),  # progress heartbeat: a silent running job is taken over
        Field("finished_at", "datetime"),
        Field("expires_at", "datetime"),
    )
