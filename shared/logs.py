"""Structured logging with LOG_LEVEL and redaction of tokens and secrets."""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import unquote, urlsplit

from pythonjsonlogger.json import JsonFormatter

from shared.settings import GENERATED_SECRETS, Settings

#: (pattern, words one of which a match contains, in lower case): a line without any of the words
#: skips the regular expression (every request is logged: the searches cost more than the rest)
_PATTERNS = [
    (re.compile(r"(oauth:)[A-Za-z0-9]+", re.I), ("oauth:",)),
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+(?=@)", re.I), ("://",)),  # scheme://user:PASSWORD@host
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.I), ("bearer",)),
    (re.compile(r"((?:access_token|refresh_token|client_secret|code|password|secret|token|api_key|key)"
                r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+", re.I), ("token", "secret", "code", "password", "key")),
]
_MASK = "***"


class RedactingFilter(logging.Filter):
    """Masks token-shaped text and the configured secret values in every record."""

    def __init__(self, secret_values: list[str]):
        super().__init__()
        self.secret_values = [value for value in secret_values if len(value) >= 6]

    def redact(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, _MASK)
        # re.I also matches a few non-ASCII letters to ASCII ones (K, ſ, İ, ı): only ASCII text,
        # where lower() folds exactly as re.I does, may skip a search
        folded = text.lower() if text.isascii() else None
        for pattern, words in _PATTERNS:
            if folded is None or any(word in folded for word in words):
                text = pattern.sub(lambda m: m.group(1) + _MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            # formatters print exc_text when exc_info is gone; left in place, a JSON formatter
            # would format the traceback again, unredacted
            record.exc_text, record.exc_info = self.redact(record.exc_text), None
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line for log collectors: ts, level, logger, message, exc_info and any extras."""
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z")


def _secret_values(settings: Settings) -> list[str]:
    names = [*GENERATED_SECRETS, "ADMIN_API_KEY", "TWITCH_APP_SECRET", "TWITCH_OAUTH_TOKEN",
             "TWITCH_WEBHOOK_SECRET", "YT_API_KEY", "WADDLEBOT_API_KEY", "METRICS_TOKEN"]
    raw = [urlsplit(url).password or "" for url in (settings.database_url, settings.redis_url)]
    passwords = [value for password in raw for value in (password, unquote(password))]
    return [getattr(settings, name.lower()) for name in names] + passwords


def configure_logging(settings: Settings, stream=None) -> RedactingFilter:
    """Install one redacting handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_waddlebot", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._waddlebot = True
    redactor = RedactingFilter(_secret_values(settings))
    handler.addFilter(redactor)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # the logging docs' optimizations: no line prints the caller, thread or process, and at INFO
    # the web process writes two records a request (the access line and often a module's own)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    return redactor
