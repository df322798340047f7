"""YouTube: URL parsing, Data API and live chat (framework-free)."""
