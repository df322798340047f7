"""py4web apps: the WaddleBot modules. Each folder declares itself in manifest.json."""
