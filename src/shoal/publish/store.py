"""The bases a worker process fetched, kept for the changesets that come after.

A publish needs its base commit and tree. Fetched once, a base serves every later publish of
the same repository on it (a second campaign, a re-publish, a retry) without a request:
each publish still works in its own small repository, which borrows the base's objects
through `objects/info/alternates` and gets a copy of the base's index (`git read-tree`'s
result) and its `shallow` file, so its own index, loose objects and lock files are never
shared, and nothing it writes lands in the store.

Each base has a directory of its own (`bases/<id>/objects/pack`): a publish sees only the
pack of the base it borrows, so evicting another base cannot pull an object from under a
running git. A base is published to other threads only once its pack is indexed (git checks
every object then); two publishes that want the same base at once wait for one fetch.

Bounded: a base nobody borrows is evicted when the store holds more than `max_bytes`
(least recently used first) or it was not used for `max_age_s`. A base a publish found
unusable (`spoil`: a corrupt pack or index) is evicted as soon as nobody holds it. Only the
threads of one process share a store (it lives in the worker's scratch directory, which the
next worker removes once this one is gone): a lock in memory is enough.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import structlog

__all__ = ["Base", "CorruptBaseError", "Loan", "ObjectStore"]

log = structlog.get_logger("shoal.publish.store")

Fetch = Callable[[Path], tuple[str, ...]]  # writes and indexes the pack; the shallow commits


class CorruptBaseError(Exception):
    """What the store kept of a base is not what it wrote."""


@dataclass(eq=False, slots=True)
class Base:
    """One fetched base: its objects (`objects`), the commits whose parents it lacks, and
    once a publish made it, its index."""

    key: tuple[str, str]  # (owner/name, base sha)
    directory: Path
    shallow: tuple[str, ...]
    size: int
    used: float
    users: int = 0
    spoiled: bool = False
    # sha256 of the index kept: git does not check an index's own checksum when it reads
    # one, and a damaged entry would make a wrong tree.
    index_digest: bytes | None = None
    _store: ObjectStore | None = field(default=None, repr=False)

    @property
    def objects(self) -> Path:
        return self.directory / "objects"

    @property
    def index(self) -> Path:
        return self.directory / "index"

    def attach(self, git_dir: Path) -> bool:
        """Make `git_dir` see the base (alternates, shallow, and its index when the store
        has one); True when the index was copied (no `git read-tree` needed)."""
        (git_dir / "objects" / "info").mkdir(parents=True, exist_ok=True)
        (git_dir / "objects" / "info" / "alternates").write_text(f"{self.objects}\n")
        (git_dir / "shallow").write_text("".join(f"{c}\n" for c in self.shallow))
        if self.index_digest is None:
            return False
        data = self.index.read_bytes()
        if hashlib.sha256(data).digest() != self.index_digest:
            raise CorruptBaseError(f"the index kept for {self.key[1]} changed")
        (git_dir / "index").write_bytes(data)
        return True

    def keep_index(self, index: Path) -> None:
        """Keep `index` (the base's tree read into an index) for the next publishes."""
        assert self._store is not None
        self._store._keep_index(self, index)

    def spoil(self) -> None:
        """The base could not be read: evict it once nobody holds it."""
        assert self._store is not None
        self._store._spoil(self)


@dataclass(frozen=True, slots=True)
class Loan:
    base: Base
    fetched: bool  # this borrower fetched it: git verified its pack moments ago


class ObjectStore:
    """Bases fetched by the publishes of one process, in a directory of its own made
    under `parent`."""

    def __init__(
        self,
        parent: Path,
        *,
        max_bytes: int,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="store-", dir=parent))
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._bases: dict[tuple[str, str], Base] = {}
        self._fetching: dict[tuple[str, str], threading.Event] = {}
        self._retired: list[Base] = []  # out of the map, still held by a publish

    @property
    def size(self) -> int:
        with self._lock:
            return sum(base.size for base in self._bases.values())

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._bases

    @contextmanager
    def borrow(self, repo: str, sha: str, fetch: Fetch, *, wait_s: float) -> Iterator[Loan | None]:
        """The base `sha` of `repo`, fetched with `fetch` unless the store holds it, and held
        (never evicted) until the block ends. None when the store cannot serve it (its disk
        failed, or another thread's fetch of it outlasted `wait_s`): the caller fetches on
        its own. `fetch`'s errors pass through."""
        loan = self._hold(repo, sha, fetch, wait_s)
        try:
            yield loan
        finally:
            if loan is not None:
                with self._lock:
                    loan.base.users -= 1
                    loan.base.used = self._clock()
                    self._prune()

    def _hold(self, repo: str, sha: str, fetch: Fetch, wait_s: float) -> Loan | None:
        key = (repo, sha)
        deadline = time.monotonic() + wait_s
        while True:
            with self._lock:
                base = self._bases.get(key)
                if base is not None and not base.spoiled:
                    base.users += 1
                    base.used = self._clock()
                    return Loan(base, fetched=False)
                waiting = self._fetching.get(key)
                if waiting is None:
                    done = self._fetching[key] = threading.Event()
                    break
            if not waiting.wait(max(deadline - time.monotonic(), 0)):
                return None
        try:
            return self._fetch(key, fetch)
        finally:
            with self._lock:
                del self._fetching[key]
            done.set()

    def _fetch(self, key: tuple[str, str], fetch: Fetch) -> Loan | None:
        directory = self.root / "bases" / uuid.uuid4().hex
        pack = directory / "objects" / "pack" / f"pack-{uuid.uuid4().hex}.pack"
        try:
            pack.parent.mkdir(parents=True)
        except OSError as exc:
            log.warning("publish_store_unusable", error=str(exc))
            return None
        try:
            shallow = fetch(pack)
            size = sum(path.stat().st_size for path in pack.parent.iterdir())
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        now = self._clock()
        base = Base(key, directory, shallow, size, now, users=1, _store=self)
        with self._lock:
            old = self._bases.pop(key, None)
            if old is not None:  # spoiled: out of the map, removed once its users are done
                self._retire(old)
            self._bases[key] = base
            self._prune()
        return Loan(base, fetched=True)

    def _keep_index(self, base: Base, index: Path) -> None:
        kept = base.directory / f"index-{uuid.uuid4().hex}"
        try:
            data = index.read_bytes()
            kept.write_bytes(data)
            kept.replace(base.index)  # whole or not at all, for the threads copying it
        except OSError as exc:
            kept.unlink(missing_ok=True)
            log.warning("publish_store_index_not_kept", error=str(exc))
            return
        with self._lock:
            if base.index_digest is None:
                base.size += len(data)
            base.index_digest = hashlib.sha256(data).digest()

    def _spoil(self, base: Base) -> None:
        log.warning("publish_store_base_unusable", repo=base.key[0], base_sha=base.key[1])
        with self._lock:
            base.spoiled = True
            if self._bases.get(base.key) is base:
                del self._bases[base.key]
                self._retire(base)

    # -- eviction, under the lock --

    def _retire(self, base: Base) -> None:
        """`base` left the map: remove its files now, or when its last user is done."""
        base.spoiled = True
        if base.users == 0:
            shutil.rmtree(base.directory, ignore_errors=True)
        else:
            self._retired.append(base)

    def _prune(self) -> None:
        for base in [b for b in self._retired if b.users == 0]:
            self._retired.remove(base)
            shutil.rmtree(base.directory, ignore_errors=True)
        now = self._clock()
        idle = sorted((b for b in self._bases.values() if b.users == 0), key=lambda b: b.used)
        total = sum(b.size for b in self._bases.values())
        for base in idle:
            if total <= self.max_bytes and now - base.used <= self.max_age_s:
                continue
            del self._bases[base.key]
            total -= base.size
            shutil.rmtree(base.directory, ignore_errors=True)
            log.debug("publish_store_evicted", repo=base.key[0], base_sha=base.key[1])
