"""Commands that talk to a Shoal server through its REST API, and only through it."""
