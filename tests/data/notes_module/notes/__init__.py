"""notes: an example WaddleBot module (one table, one service, one admin page, one command)."""

from . import controllers  # noqa: F401
