"""The registry of everything that exists in the simulated GitHub, behind one lock.

Lookups by name are case-insensitive like GitHub's. ``get_*`` raise :class:`NotFoundError`,
``find_*`` return ``None``. Git content lives in the bare repositories (``shoal_sim.git``);
operations that need both (creating a repository with files, pushing as a human) are in
``shoal_sim.scenario``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shoal_sim.clock import Clock
from shoal_sim.state.identity import Identities, node_id
from shoal_sim.state.models import (
    App,
    Installation,
    InstallationToken,
    Org,
    PersonalAccessToken,
    Repo,
    Team,
    User,
)


class NotFoundError(LookupError):
    pass


class ConflictError(ValueError):
    pass


def _key(*parts: str) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


class World:
    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.ids = Identities(seed)
        self.users: dict[tuple[str, ...], User] = {}
        self.orgs: dict[tuple[str, ...], Org] = {}
        self.teams: dict[tuple[str, ...], Team] = {}
        self.repos: dict[int, Repo] = {}
        self._repo_names: dict[tuple[str, ...], int] = {}
        # Former names of renamed repositories, which GitHub keeps redirecting.
        self._former_names: dict[tuple[str, ...], int] = {}
        # Repositories by lower-cased owner, in id order: installation checks run on every
        # request, so they must not scan the whole world.
        self._owner_repos: dict[str, dict[int, Repo]] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.installation_tokens: dict[str, InstallationToken] = {}
        self.pats: dict[str, PersonalAccessToken] = {}

    # -- accounts ------------------------------------------------------------------------

    def create_user(
        self,
        login: str,
        *,
        name: str | None = None,
        email: str | None = None,
        user_type: str = "User",
        site_admin: bool = False,
    ) -> User:
        with self.lock:
            if self.find_account(login):
                raise ConflictError(f"account {login} exists")
            ident = self.ids.next_id("account")
            node_type = "Bot" if user_type == "Bot" else "User"
            user = User(
                ident,
                node_id(node_type, ident),
                login,
                name,
                email,
                user_type,
                self.clock.time(),
                site_admin,
            )
            self.users[_key(login)] = user
            return user

    def create_org(self, login: str, *, name: str | None = None) -> Org:
        with self.lock:
            if self.find_account(login):
                raise ConflictError(f"account {login} exists")
            ident = self.ids.next_id("account")
            org = Org(ident, node_id("Organization", ident), login, name, self.clock.time())
            self.orgs[_key(login)] = org
            return org

    def find_user(self, login: str) -> User | None:
        return self.users.get(_key(login))

    def get_user(self, login: str) -> User:
        user = self.find_user(login)
        if user is None:
            raise NotFoundError(login)
        return user

    def find_org(self, login: str) -> Org | None:
        return self.orgs.get(_key(login))

    def get_org(self, login: str) -> Org:
        org = self.find_org(login)
        if org is None:
            raise NotFoundError(login)
        return org

    def find_account(self, login: str) -> User | Org | None:
        return self.find_user(login) or self.find_org(login)

    def create_team(
        self, org: str, slug: str, *, name: str | None = None, members: Iterable[str] = ()
    ) -> Team:
        with self.lock:
            owner = self.get_org(org)
            ident = self.ids.next_id("team")
            team = Team(
                ident, node_id("Team", ident), owner.login, slug, name or slug, list(members)
            )
            self.teams[_key(owner.login, slug)] = team
            return team

    def find_team(self, org: str, slug: str) -> Team | None:
        return self.teams.get(_key(org, slug))

    # -- repositories --------------------------------------------------------------------

    def add_repo(self, owner: str, name: str) -> Repo:
        with self.lock:
            account = self.find_account(owner)
            if account is None:
                raise NotFoundError(owner)
            if _key(owner, name) in self._repo_names:
                raise ConflictError(f"{owner}/{name} exists")
            ident = self.ids.next_id("repo")
            now = self.clock.time()
            repo = Repo(
                ident,
                node_id("Repository", ident),
                account.login,
                name,
                created_at=now,
                updated_at=now,
                pushed_at=now,
            )
            self.repos[ident] = repo
            self._repo_names[_key(account.login, name)] = ident
            self._owner_repos.setdefault(account.login.lower(), {})[ident] = repo
            return repo

    def find_repo(self, owner: str, name: str) -> Repo | None:
        ident = self._repo_names.get(_key(owner, name))
        return None if ident is None else self.repos.get(ident)

    def find_renamed(self, owner: str, name: str) -> Repo | None:
        """The repository formerly called ``owner/name``, when no other took the name."""
        if _key(owner, name) in self._repo_names:
            return None
        ident = self._former_names.get(_key(owner, name))
        return None if ident is None else self.repos.get(ident)

    def get_repo(self, owner: str, name: str) -> Repo:
        repo = self.find_repo(owner, name)
        if repo is None:
            raise NotFoundError(f"{owner}/{name}")
        return repo

    def rename_repo(self, repo: Repo, new_name: str) -> None:
        with self.lock:
            if _key(repo.owner, new_name) in self._repo_names:
                raise ConflictError(f"{repo.owner}/{new_name} exists")
            del self._repo_names[_key(repo.owner, repo.name)]
            self._former_names[_key(repo.owner, repo.name)] = repo.id
            self._former_names.pop(_key(repo.owner, new_name), None)
            repo.name = new_name
            self._repo_names[_key(repo.owner, new_name)] = repo.id

    def remove_repo(self, repo: Repo) -> None:
        with self.lock:
            self._repo_names.pop(_key(repo.owner, repo.name), None)
            self.repos.pop(repo.id, None)
            self._owner_repos.get(repo.owner.lower(), {}).pop(repo.id, None)
            for inst in self.installations.values():
                inst.repository_ids.discard(repo.id)

    def repos_of(self, owner: str) -> list[Repo]:
        """An owner's repositories in id order (ids grow, so insertion order is id order)."""
        with self.lock:
            return list(self._owner_repos.get(owner.lower(), {}).values())

    # -- apps and installations ----------------------------------------------------------

    def create_app(
        self,
        slug: str,
        *,
        name: str | None = None,
        owner: str,
        permissions: dict[str, str],
        events: Iterable[str] = (),
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        private_key_pem: str | None = None,
        description: str | None = None,
    ) -> App:
        if private_key_pem is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private_key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode()
        # Skipping the (slow) key consistency check is safe: we only derive the public key.
        loaded = serialization.load_pem_private_key(
            private_key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        public_pem = (
            loaded.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        with self.lock:
            ident = self.ids.next_id("app")
            bot = self.create_user(f"{slug}[bot]", user_type="Bot")
            app = App(
                ident,
                node_id("App", ident),
                slug,
                name or slug,
                self.ids.client_id(),
                owner,
                private_key_pem,
                public_pem,
                dict(permissions),
                list(events),
                webhook_url,
                webhook_secret,
                bot.id,
                description,
                self.clock.time(),
            )
            self.apps[ident] = app
            return app

    def find_app(self, ident: int | str) -> App | None:
        """By numeric id or by client id, the two values GitHub accepts as JWT ``iss``."""
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            return self.apps.get(int(ident))
        return next((a for a in self.apps.values() if a.client_id == ident), None)

    def install(
        self,
        app: App,
        org: str,
        *,
        repository_selection: str = "all",
        repository_ids: Iterable[int] = (),
        permissions: dict[str, str] | None = None,
        events: Iterable[str] | None = None,
    ) -> Installation:
        with self.lock:
            account = self.get_org(org)
            ident = self.ids.next_id("installation")
            inst = Installation(
                ident,
                app.id,
                account.login,
                repository_selection,
                set(repository_ids),
                dict(permissions or app.permissions),
                list(app.events if events is None else events),
                self.clock.time(),
            )
            self.installations[ident] = inst
            return inst

    def installation_for(self, app_id: int, account: str) -> Installation | None:
        return next(
            (
                i
                for i in self.installations.values()
                if i.app_id == app_id and i.account.lower() == account.lower()
            ),
            None,
        )

    def installation_repo_ids(self, inst: Installation) -> list[int]:
        with self.lock:
            if inst.repository_selection == "all":
                return [r.id for r in self.repos_of(inst.account)]
            return sorted(i for i in inst.repository_ids if i in self.repos)

    def installation_covers(self, inst: Installation, repo_id: int) -> bool:
        """Whether the installation reaches a repository, without listing them all."""
        with self.lock:
            if inst.repository_selection == "all":
                return repo_id in self._owner_repos.get(inst.account.lower(), {})
            return repo_id in inst.repository_ids and repo_id in self.repos

    def installation_repo_count(self, inst: Installation) -> int:
        with self.lock:
            if inst.repository_selection == "all":
                return len(self._owner_repos.get(inst.account.lower(), {}))
            return sum(1 for i in inst.repository_ids if i in self.repos)

    # -- tokens --------------------------------------------------------------------------

    def mint_installation_token(
        self,
        inst: Installation,
        *,
        ttl: float,
        permissions: dict[str, str],
        repository_ids: frozenset[int] | None,
    ) -> InstallationToken:
        with self.lock:
            token = InstallationToken(
                self.ids.installation_token(),
                inst.id,
                self.clock.time() + ttl,
                permissions,
                repository_ids,
            )
            self.installation_tokens[token.token] = token
            return token

    def mint_pat(
        self,
        user: str,
        *,
        fine_grained: bool = False,
        scopes: Iterable[str] = (),
        permissions: dict[str, str] | None = None,
        repository_ids: frozenset[int] | None = None,
        expires_at: float | None = None,
        token: str | None = None,
    ) -> PersonalAccessToken:
        with self.lock:
            owner = self.get_user(user)
            value = token or (
                self.ids.fine_grained_pat() if fine_grained else self.ids.classic_pat()
            )
            pat = PersonalAccessToken(
                value,
                owner.login,
                fine_grained,
                list(scopes),
                dict(permissions or {}),
                repository_ids,
                expires_at,
            )
            self.pats[value] = pat
            return pat
