"""sandbox: `waddlebot sandbox` runs the whole system against local fakes (modules/sandbox) and
this module's page shows what the fake WaddleBot APIs received and the scenario's progress."""

from . import controllers  # noqa: F401
