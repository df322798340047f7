"""The admin app at /: login, home, health, metrics."""

from . import controllers  # noqa: F401
