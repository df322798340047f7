"""The WaddleBot core: settings, database, registry, auth, outbox, worker and building blocks."""
