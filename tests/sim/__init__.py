"""Tests of the GitHub simulator (``shoal.sim``), over real HTTP on 127.0.0.1."""
