"""Bare git repositories on disk: layout, object and ref operations, fast bulk seeding.

All git work shells out to the real ``git`` CLI. Every repository borrows objects from one
shared store through ``objects/info/alternates``, so thousands of seeded repositories cost
little more disk than their distinct file contents.
"""

from shoal_sim.git.repo import Commit, GitError, GitRepo, Person, TreeEntry
from shoal_sim.git.store import GitStore

__all__ = ["Commit", "GitError", "GitRepo", "GitStore", "Person", "TreeEntry"]
