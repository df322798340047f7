"""Environment (+ optional .env) → one typed, validated settings object.

Every variable the system reads is declared here once, with its default and meaning;
`.env.example` lists the same variables (a test keeps the two in step).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: the py4web apps (WaddleBot modules); read from the environment at import, before any app loads
APPS_FOLDER = (PROJECT_ROOT / os.environ.get("WADDLEBOT_APPS_FOLDER", "apps")).resolve()
log = logging.getLogger(__name__)

#: secrets that production refuses to start without and development generates once
GENERATED_SECRETS = ("WADDLEBOT_SECRET_KEY", "ADMIN_PASSWORD", "AUTH_SECRET")


class SettingsError(RuntimeError):
    """The environment is missing or has malformed variables; the message names each one."""


def _url(schemes: tuple[str, ...]):
    def check(value: str) -> str:
        if value == "":
            return value
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(f"expects a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value.rstrip("/")

    return AfterValidator(check)


def _database_url(value: str) -> str:
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in ("sqlite", "postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError("expects sqlite://FILE, postgres://… or postgresql://…")
    return value


def _json_object(value: str) -> str:
    if value:
        try:
            parsed = json.loads(value)
        except ValueError as err:
            raise ValueError(f"expects a JSON object ({err})") from None
        if not isinstance(parsed, dict):
            raise ValueError("expects a JSON object")
    return value


HttpUrl = Annotated[str, _url(("http", "https"))]
WsUrl = Annotated[str, _url(("ws", "wss"))]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
RedisUrl = Annotated[str, _url(("redis", "rediss", "unix"))]
JsonObject = Annotated[str, AfterValidator(_json_object)]


def _alias(*names: str):
    return AliasChoices(*names)


class Settings(BaseSettings):
    """All configuration. Attribute names are the variable names in lower case."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # --- core -------------------------------------------------------------------------
    waddlebot_env: Literal["development", "production"] = Field(
        "development", description="development generates missing secrets; production refuses to start without them")
    waddlebot_var_dir: str = Field(
        "var", description="folder (relative to the project) for the SQLite database, secrets, locks, exports")
    waddlebot_apps_folder: str = Field(
        "apps", description="folder (relative to the project) of the modules (py4web apps); environment only")
    waddlebot_secret_key: str = Field(
        "", description="encrypts OAuth tokens at rest (Fernet key derived from it)")
    admin_password: str = Field("", description="password of the admin login")
    auth_secret: str = Field("", description="signs admin session cookies, magic links and public links (JWT)")
    admin_api_key: str = Field("", description="value of the X-Admin-Key header for scripts; empty disables it")
    database_url: DatabaseUrl = Field(
        "sqlite://waddlebot.sqlite", validation_alias=_alias("DATABASE_URL", "DB_URI"),
        description="sqlite://FILE (under the var dir) or postgres://user:pass@host/db (alias DB_URI)")
    db_pool_size: int = Field(
        10, ge=0, description="PostgreSQL connections kept per process; requests beyond wait for one (0: no pool)")
    redis_url: RedisUrl = Field("", description="redis://host:6379/0; empty = in-memory cache, rate limits and fan-out")
    redis_key_prefix: str = Field("waddlebot:", description="prefix of every Redis key this system writes")
    host: str = Field("127.0.0.1", description="address the web server listens on")
    port: int = Field(8000, ge=1, le=65535, description="port the web server listens on")
    public_url: HttpUrl = Field("http://127.0.0.1:8000", description="the URL users and Twitch reach this system at")
    web_threads: int = Field(
        64, ge=4, description="web server threads, started as requests need them (an open SSE stream holds one)")
    web_workers: int = Field(
        1, ge=1, le=64, description="web server processes sharing the port (more than 1 needs REDIS_URL)")
    trust_proxy_headers: bool = Field(
        False, description="take the client address from X-Real-IP/X-Forwarded-For (only behind nginx)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    log_format: Literal["text", "json"] = Field("text", description="text for people, json for log collectors")
    session_ttl_hours: int = Field(12, ge=1, description="lifetime of an admin session cookie")
    login_max_attempts: int = Field(5, ge=1, description="password attempts allowed per client per window")
    login_window_seconds: int = Field(300, ge=1, description="window of the login attempt limit")
    magic_link_ttl_minutes: int = Field(15, ge=1, description="lifetime of a one-time admin magic link")
    metrics_token: str = Field(
        "", description="when set, GET /metrics needs Authorization: Bearer <this> (or an admin)")
    dashboard_enabled: bool = Field(
        False, description="serve py4web's _dashboard (development only; behind the admin login, then ADMIN_PASSWORD)")
    worker_heartbeat_seconds: int = Field(5, ge=1, description="how often the worker reports it is alive")
    waddlebot_sandbox: bool = Field(
        False, description="a banner on every page says this is a sandbox (set by `waddlebot sandbox`)")
    sandbox_url: HttpUrl = Field("", description="where the sandbox's fakes answer (set by `waddlebot sandbox`)")
    # --- external WaddleBot APIs and the outbox -----------------------------------------
    context_api_url: HttpUrl = Field("", description="context API (identity → identity_id, namespace); empty = skip")
    reputation_api_url: HttpUrl = Field("", description="reputation API receiving activities; empty = not forwarded")
    gateway_activate_url: HttpUrl = Field("", description="gateway activation API called on a first authorization")
    waddlebot_api_key: str = Field("", description="X-API-Key sent to the context, reputation and gateway APIs")
    api_timeout_seconds: float = Field(5.0, gt=0, description="timeout of each call to an external API")
    outbox_max_attempts: int = Field(
        25, ge=1, description="deliveries tried before a row is dead (25: at least 80 minutes of retries)")
    outbox_backoff_base_seconds: float = Field(2.0, gt=0, description="first retry delay (doubles, with jitter)")
    outbox_backoff_max_seconds: float = Field(600.0, gt=0, description="longest delay between two retries")
    outbox_batch_size: int = Field(200, ge=1, description="rows a dispatcher claims at once")
    outbox_concurrency: int = Field(16, ge=1, description="parallel deliveries per dispatcher")
    outbox_lease_seconds: float = Field(
        30.0, ge=1, description="how long a claimed row stays reserved for its dispatcher (renewed while it "
        "delivers): after a worker crash, its undelivered rows are retried this much later")
    activity_points: JsonObject = Field(
        "", description='JSON overriding default points per event type, e.g. {"channel.follow": 5}')
    # --- Twitch: OAuth, tokens, bots ------------------------------------------------------
    twitch_app_id: str = Field("", validation_alias=_alias("TWITCH_APP_ID", "TWITCH_CLIENT_ID"),
                               description="Twitch application client id (alias TWITCH_CLIENT_ID)")
    twitch_app_secret: str = Field("", validation_alias=_alias("TWITCH_APP_SECRET", "TWITCH_CLIENT_SECRET"),
                                   description="Twitch application secret (alias TWITCH_CLIENT_SECRET)")
    twitch_redirect_uri: HttpUrl = Field("", description="OAuth redirect URI; default PUBLIC_URL/twitch_auth/callback")
    twitch_id_url: HttpUrl = Field("https://id.twitch.tv/oauth2", description="Twitch OAuth base URL")
    twitch_default_scopes: str = Field("user:read:email", description="scopes asked by /twitch_auth/login by default")
    twitch_username: str = Field("", description="static chat bot login (with TWITCH_OAUTH_TOKEN)")
    twitch_oauth_token: str = Field("", description="static chat bot token, oauth:…")
    token_refresh_margin_seconds: int = Field(300, ge=0, description="refresh a user token when less than this is left")
    token_validate_interval_seconds: int = Field(3600, ge=60, description="how often every stored token is validated")
    # --- Helix proxy ----------------------------------------------------------------------
    twitch_helix_url: HttpUrl = Field("https://api.twitch.tv/helix", description="Helix base URL")
    app_port: int = Field(0, ge=0, le=65535, description="port of `waddlebot helix-proxy` (the seed's); 0 = PORT")
    rate_limit_requests_per_second: float = Field(10.0, gt=0, description="Helix requests per second per bucket")
    rate_limit_max_wait_s: float = Field(10.0, ge=0, description="longest wait for quota before 503")
    helix_cache_ttls: JsonObject = Field(
        "", description='JSON of cache TTL seconds per Helix path, e.g. {"users": 300, "moderation/channels": 60}')
    helix_cache_max_entries: int = Field(10000, ge=1, description="entries of the in-memory Helix cache")
    helix_timeout_s: float = Field(10.0, gt=0, description="timeout of one Helix call")
    helix_max_retries: int = Field(3, ge=1, description="tries of an idempotent Helix call on 5xx/errors")
    helix_breaker_threshold: int = Field(5, ge=1, description="consecutive upstream failures that open the breaker")
    helix_breaker_cooldown_s: float = Field(30.0, gt=0, description="seconds the breaker stays open")
    # --- EventSub webhooks, WebSocket and hub ---------------------------------------------
    twitch_webhook_secret: str = Field("", description="default EventSub webhook secret (10–100 characters)")
    twitch_webhook_callback_url: HttpUrl = Field(
        "", description="URL Twitch sends EventSub webhooks to; default PUBLIC_URL/twitch_webhooks/webhook")
    eventsub_max_age_seconds: int = Field(600, ge=1, description="oldest accepted Twitch-Eventsub-Message-Timestamp")
    webhook_max_body_bytes: int = Field(1048576, ge=1024, description="largest accepted webhook body")
    twitch_eventsub_ws_url: WsUrl = Field("wss://eventsub.wss.twitch.tv/ws", description="EventSub WebSocket URL")
    eventsub_keepalive_seconds: int = Field(30, ge=10, le=600, description="keepalive_timeout_seconds asked of Twitch")
    eventsub_bot: str = Field("", description="bot account whose token opens the EventSub WebSocket")
    eventsub_transport: Literal["websocket", "webhook", "conduit"] = Field(
        "websocket", description="websocket: the hub's interests over the bots' EventSub WebSocket sessions; webhook: "
                                 "every subscription on the webhook transport with the app token (https callback "
                                 "needed); conduit: one app conduit whose shards are the workers' sessions or a "
                                 "webhook (CONDUIT_SHARDS)")
    conduit_shards: Literal["auto", "websocket", "webhook"] = Field(
        "auto", description="conduit shards: the workers' EventSub WebSocket sessions, or one webhook shard (our "
                            "webhook receiver; needs an https callback on port 443); auto: webhook when the "
                            "callback is https")
    conduit_takeover_seconds: float = Field(
        5.0, gt=0, description="how often a worker looks for conduit shards whose worker died (and takes them)")
    waddlebot_ws_port: int = Field(8001, ge=1, le=65535, description="port of the hub WebSocket (/ws/events)")
    hub_allow_private_webhooks: bool = Field(False, description="allow hub webhooks to private/loopback addresses")
    hub_max_connections_per_account: int = Field(
        10, ge=1, description="hub WebSocket connections one service account may hold at once")
    # --- chat and !reco -------------------------------------------------------------------
    twitch_irc_url: WsUrl = Field("wss://irc-ws.chat.twitch.tv:443", description="Twitch IRC WebSocket URL")
    chat_bot: str = Field("", description="bot account the chat listener uses (default: the static bot)")
    chat_transport: Literal["auto", "eventsub", "irc"] = Field(
        "auto", description="chat over EventSub + Send Chat Message (auto: when the bot's grants allow) or IRC")
    reco_ticket_ttl_minutes: int = Field(5, ge=1, description="lifetime of a !reco submission link")
    reco_cooldown_seconds: int = Field(60, ge=0, description="per-viewer cooldown of !reco")
    reco_points: int = Field(20, description="points of a recommendation activity")
    youtube_oembed_url: HttpUrl = Field("https://www.youtube.com/oembed", description="YouTube oEmbed endpoint")
    spotify_oembed_url: HttpUrl = Field("https://open.spotify.com/oembed", description="Spotify oEmbed endpoint")
    oembed_timeout_seconds: float = Field(5.0, gt=0, description="timeout of an oEmbed call")
    # --- livepulse ------------------------------------------------------------------------
    youtube_api_url: HttpUrl = Field("https://www.googleapis.com/youtube/v3", description="YouTube Data API base URL")
    yt_api_key: str = Field("", description="YouTube Data API key (never sent to a browser)")
    poll_interval_seconds: int = Field(15, ge=1, description="seconds between two viewer polls")
    yt_daily_quota: int = Field(10000, ge=1, description="YouTube quota units per day")
    sample_retention_days: int = Field(30, ge=1, description="days raw samples are kept before 5-minute roll-ups")
    max_history_minutes: int = Field(10080, ge=1, description="longest history window a request may ask")
    history_max_points: int = Field(2000, ge=10, description="points per series before downsampling")
    export_retention_hours: int = Field(24, ge=1, description="hours an export file is kept")
    sse_heartbeat_seconds: float = Field(15.0, gt=0, description="seconds between SSE heartbeat comments")
    sse_max_streams: int = Field(
        32, ge=1, description="live (SSE) streams served at once per web process (at most half of WEB_THREADS)")
    sse_max_streams_per_client: int = Field(4, ge=1, description="live (SSE) streams one client address may hold")
    request_max_body_bytes: int = Field(2 * 2**20, ge=1024, description="largest request body accepted (413 beyond)")

    # ---------------------------------------------------------------------------------------
    @property
    def var_dir(self) -> Path:
        return PROJECT_ROOT / self.waddlebot_var_dir  # an absolute value replaces the root

    @property
    def is_production(self) -> bool:
        return self.waddlebot_env == "production"

    def __repr__(self) -> str:
        return f"Settings(env={self.waddlebot_env!r}, database={self.database_url.split('://')[0]!r})"


def _env_name(field_name: str) -> str:
    """The primary variable name of a field (errors report aliased fields by their alias)."""
    if field_name not in Settings.model_fields:
        return field_name.upper()
    alias = Settings.model_fields[field_name].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else field_name.upper()


def setting_names() -> list[str]:
    """Every environment variable the system reads (primary names)."""
    return [_env_name(name) for name in Settings.model_fields]


def _format_errors(err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        name = _env_name(str(item["loc"][0])) if item["loc"] else "settings"
        lines.append(f"  {name}: {item['msg'].removeprefix('Value error, ')} (got {item.get('input')!r})")
    return "invalid configuration:\n" + "\n".join(lines)


def _generated_secrets(var_dir: Path, missing: list[str]) -> dict[str, str]:
    """Development only: create missing secrets once, keep them in var/secrets.json."""
    path = var_dir / "secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    created = [name for name in missing if name not in stored]
    if created:
        stored.update({name: secrets.token_urlsafe(32) for name in created})
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
        with os.fdopen(descriptor, "w") as secrets_file:
            secrets_file.write(json.dumps(stored, indent=2))
        path.chmod(0o600)
        log.warning("generated development secrets for %s in %s", ", ".join(created), path)
    return {name: stored[name] for name in missing}


def load_settings(**overrides) -> Settings:
    """Read the environment; raise SettingsError naming every bad or missing variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as err:
        raise SettingsError(_format_errors(err)) from None
    if settings.web_workers > 1 and not settings.redis_url:
        raise SettingsError("WEB_WORKERS above 1 needs REDIS_URL: the web processes share the Helix rate limits, "
                            "cache and coalescing, the other rate limits and the live fan-out through Redis")
    missing = [name for name in GENERATED_SECRETS if not getattr(settings, name.lower())]
    if not missing:
        return settings
    if settings.is_production:
        raise SettingsError(
            "WADDLEBOT_ENV=production needs these variables set: " + ", ".join(missing))
    values = _generated_secrets(settings.var_dir, missing)
    return settings.model_copy(update={name.lower(): value for name, value in values.items()})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and `waddlebot` after changing os.environ)."""
    get_settings.cache_clear()
