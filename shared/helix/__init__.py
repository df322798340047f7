"""The one Helix pipeline: client (rate limits, retries, app-token renewal), cache, circuit breaker,
metrics. helix_proxy serves it; every other module calls it."""
