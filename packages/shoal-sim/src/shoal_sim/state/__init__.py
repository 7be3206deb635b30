"""The simulator's world state: who and what exists, who may do what, and what happened.

``models`` holds the records, ``world`` the registry behind one lock, ``access`` the
visibility and permission rules, ``ledger`` the log of every mutation received and
``events`` the bus that later features (pull requests, webhooks) subscribe to.
"""

from shoal_sim.state.events import EventBus, PushReceived, RefChange, RepositoryChanged
from shoal_sim.state.ledger import Actor, Ledger, LedgerEntry
from shoal_sim.state.models import (
    App,
    BranchProtection,
    Installation,
    InstallationToken,
    Org,
    PersonalAccessToken,
    Repo,
    Team,
    User,
)
from shoal_sim.state.world import NotFoundError, World

__all__ = [
    "Actor",
    "App",
    "BranchProtection",
    "EventBus",
    "Installation",
    "InstallationToken",
    "Ledger",
    "LedgerEntry",
    "NotFoundError",
    "Org",
    "PersonalAccessToken",
    "PushReceived",
    "RefChange",
    "Repo",
    "RepositoryChanged",
    "Team",
    "User",
    "World",
]
