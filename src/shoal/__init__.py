"""Shoal: declarative bulk pull-request campaigns across GitHub organizations."""

__version__ = "0.1.0"
