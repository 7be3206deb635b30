"""Publishing: Patches become deterministic commits on campaign branches, pushed with git.

`commits` fixes a commit's identity (message with Shoal's trailers, author, date) from the
spec; `gitpush.GitPublisher` builds the commit on the base and pushes it over smart HTTP.
In API commit mode `apicommit.ApiCommitter` has GitHub make (and sign) the commit instead,
through the Git Data API, from the same locally built tree.
"""

from shoal.publish.commits import (
    TRAILER_CAMPAIGN,
    TRAILER_CAMPAIGN_ID,
    CommitSpec,
    Person,
    add_trailers,
    commit_identity,
    commit_timestamp,
)
from shoal.publish.git import GitCommandError
from shoal.publish.gitpush import GitPublisher, PatchDoesNotApplyError, PushResult

__all__ = [
    "TRAILER_CAMPAIGN",
    "TRAILER_CAMPAIGN_ID",
    "CommitSpec",
    "GitCommandError",
    "GitPublisher",
    "PatchDoesNotApplyError",
    "Person",
    "PushResult",
    "add_trailers",
    "commit_identity",
    "commit_timestamp",
]
