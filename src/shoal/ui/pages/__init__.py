"""One module per area of the UI, each with its own router."""
