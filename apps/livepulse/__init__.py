"""livepulse: live concurrent viewers of several streams per event."""

from . import admin_pages, controllers  # noqa: F401
