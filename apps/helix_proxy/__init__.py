"""helix_proxy: a rate-limited, cached, resilient proxy of the Twitch Helix API."""
