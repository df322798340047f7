"""The event hub: local services subscribe to Twitch events through service accounts and interests;
the worker keeps the Twitch subscriptions and forwards events over WebSocket or signed webhooks."""
