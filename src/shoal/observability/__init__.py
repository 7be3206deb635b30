"""Logs and metrics shared by every process (api, worker, runner)."""
