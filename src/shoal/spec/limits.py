"""Bounds on spec documents, so that hostile input is rejected cheaply.

A spec is a few kilobytes in practice; these limits are far above that and far below what
could exhaust the api's memory or CPU (a "billion laughs" alias bomb is tiny as text).
"""

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES"]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000
