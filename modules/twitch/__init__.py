"""Twitch: OAuth, Helix, EventSub and IRC wire protocols (framework-free)."""
