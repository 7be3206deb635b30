"""URLs the simulator puts in responses, all pointing back at the simulator itself.

``api`` is the REST base the request came through (``http://host:port`` or
``http://host:port/api/v3``); ``web`` is the site root, where ``html_url`` and git live.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Urls:
    api: str
    web: str

    @property
    def host(self) -> str:
        return urlsplit(self.web).hostname or "localhost"

    def api_url(self, path: str) -> str:
        return f"{self.api}{path}"

    def web_url(self, path: str) -> str:
        return f"{self.web}{path}"

    def repo_api(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"

    def repo_html(self, full_name: str) -> str:
        return f"{self.web}/{full_name}"

    def clone_url(self, full_name: str) -> str:
        return f"{self.web}/{full_name}.git"

    def ssh_url(self, full_name: str) -> str:
        # Well formed like GitHub's, although git is only served over HTTP.
        return f"git@{self.host}:{full_name}.git"

    def git_url(self, full_name: str) -> str:
        return f"git://{self.host}/{full_name}.git"
