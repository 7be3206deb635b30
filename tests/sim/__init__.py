"""Tests of the GitHub simulator (``shoal_sim``), over real HTTP on 127.0.0.1."""
