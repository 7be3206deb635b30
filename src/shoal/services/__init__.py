"""Use cases. Each one owns its transaction: it opens it, calls the store, records the audit
event in the same transaction, and enqueues follow-up tasks there too."""
