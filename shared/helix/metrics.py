"""Prometheus metrics of the Helix pipeline (route request counts come from shared.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPSTREAM_LATENCY = Histogram(
    "waddlebot_helix_upstream_seconds", "Latency of Helix upstream calls", ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CACHE = Counter("waddlebot_helix_cache_total", "Helix cache lookups: hit, miss, or coalesced (joined an identical "
                "miss in flight)", ["endpoint", "result"])
RATE_LIMIT_WAITS = Counter("waddlebot_helix_rate_limit_waits_total", "Helix calls that waited for quota",
                           ["bucket"])
RATE_LIMIT_WAIT_SECONDS = Counter("waddlebot_helix_rate_limit_wait_seconds_total",
                                  "Seconds Helix calls spent waiting for quota", ["bucket"])
RATE_LIMIT_REFUSED = Counter("waddlebot_helix_rate_limit_refused_total",
                             "Helix calls refused (503) because quota was too far away", ["bucket"])
QUOTA_REMAINING = Gauge("waddlebot_helix_ratelimit_remaining",
                        "Ratelimit-Remaining Twitch last reported", ["bucket"], multiprocess_mode="mostrecent")
BREAKER_STATE = Gauge("waddlebot_helix_breaker_state", "Helix circuit breaker: 0 closed, 1 half-open, 2 open",
                      multiprocess_mode="mostrecent")

#: Helix's endpoints (its API reference): the only paths that become labels, so callers cannot add
#: series (one per made-up path) to /metrics
KNOWN_ENDPOINTS = frozenset("""
analytics/extensions analytics/games bits/cheermotes bits/extensions bits/leaderboard channel_points/custom_rewards
channel_points/custom_rewards/redemptions channels channels/ads channels/commercial channels/editors
channels/followed channels/followers channels/vips charity/campaigns charity/donations chat/announcements
chat/badges chat/badges/global chat/chatters chat/color chat/emotes chat/emotes/global chat/emotes/set
chat/emotes/user chat/messages chat/settings chat/shoutouts clips content_classification_labels entitlements/drops
eventsub/conduits eventsub/conduits/shards eventsub/subscriptions extensions extensions/chat
extensions/configurations extensions/jwt/secrets extensions/live extensions/pubsub extensions/released
extensions/required_configuration games games/top goals guest_star/channel_settings guest_star/invites
guest_star/session guest_star/slot guest_star/slot_settings hypetrain/events moderation/automod/message
moderation/automod/settings moderation/banned moderation/bans moderation/blocked_terms moderation/channels
moderation/chat moderation/enforcements/status moderation/moderators moderation/shield_mode moderation/unban_requests
moderation/warnings polls predictions raids schedule schedule/icalendar schedule/segment
schedule/settings search/categories
search/channels streams streams/followed streams/key streams/markers subscriptions subscriptions/user teams
teams/channel users users/blocks users/extensions users/extensions/list videos whispers
""".split())


def endpoint_label(path: str) -> str:
    """The Helix path as a label; any other path is 'other' (labels come from a fixed set)."""
    return path if path in KNOWN_ENDPOINTS else "other"
