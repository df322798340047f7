"""Spotify: link parsing (framework-free)."""
