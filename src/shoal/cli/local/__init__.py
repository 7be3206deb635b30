"""Commands that run or administer Shoal on this machine (they open the database directly)."""
