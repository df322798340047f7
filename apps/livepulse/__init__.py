"""livepulse: live concurrent viewers of several streams per event."""
