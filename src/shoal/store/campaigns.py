"""Campaigns and their spec versions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.campaigns import Campaign, CampaignId, SpecVersion, SpecVersionId
from shoal.domain.errors import NotFoundError
from shoal.store.tables import campaigns, spec_versions

__all__ = [
    "CampaignFilter",
    "add_spec_version",
    "campaign_names",
    "find_campaign_by_name",
    "find_spec_version_by_hash",
    "get_campaign",
    "get_spec_version",
    "insert_campaign",
    "list_campaigns",
    "list_spec_versions",
    "lock_campaign",
    "touch_campaign",
]

_latest = (
    sa.select(
        spec_versions.c.campaign_id,
        sa.func.max(spec_versions.c.version).label("latest_version"),
    )
    .group_by(spec_versions.c.campaign_id)
    .subquery("latest")
)
_latest_spec = spec_versions.alias("latest_spec")

_campaign_select = sa.select(
    campaigns,
    _latest.c.latest_version,
    _latest_spec.c.spec_hash.label("latest_spec_hash"),
).select_from(
    campaigns.outerjoin(_latest, _latest.c.campaign_id == campaigns.c.id).outerjoin(
        _latest_spec,
        sa.and_(
            _latest_spec.c.campaign_id == campaigns.c.id,
            _latest_spec.c.version == _latest.c.latest_version,
        ),
    )
)


@dataclass(frozen=True, slots=True)
class CampaignFilter:
    name_prefix: str | None = None
    limit: int = 100
    after_id: int | None = None


def _campaign(row: RowMapping) -> Campaign:
    return Campaign(
        id=CampaignId(row["id"]),
        name=row["name"],
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        latest_version=row["latest_version"],
        latest_spec_hash=row["latest_spec_hash"],
    )


def _spec_version(row: RowMapping) -> SpecVersion:
    return SpecVersion(
        id=SpecVersionId(row["id"]),
        campaign_id=CampaignId(row["campaign_id"]),
        version=row["version"],
        spec_hash=row["spec_hash"],
        yaml_text=row["yaml_text"],
        canonical_json=row["canonical_json"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def insert_campaign(
    conn: Connection, *, name: str, description: str, created_by: str, now: datetime
) -> CampaignId | None:
    """Insert a campaign; `None` when one with that name already exists."""
    stmt = (
        sa.dialects.postgresql.insert(campaigns)
        .values(
            name=name,
            description=description,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(campaigns.c.id)
    )
    found = conn.execute(stmt).scalar_one_or_none()
    return CampaignId(found) if found is not None else None


def lock_campaign(conn: Connection, campaign_id: CampaignId) -> None:
    """Row-lock a campaign so concurrent applies of the same campaign serialize."""
    conn.execute(sa.select(campaigns.c.id).where(campaigns.c.id == campaign_id).with_for_update())


def touch_campaign(
    conn: Connection, campaign_id: CampaignId, *, now: datetime, description: str | None = None
) -> None:
    values: dict[str, object] = {"updated_at": now}
    if description is not None:
        values["description"] = description
    conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id).values(**values))


def find_campaign_by_name(conn: Connection, name: str) -> Campaign | None:
    row = conn.execute(_campaign_select.where(campaigns.c.name == name)).mappings().first()
    return _campaign(row) if row else None


_MAX_ID = 2**63 - 1


def get_campaign(conn: Connection, ref: str | CampaignId) -> Campaign:
    """A campaign by name, or by numeric id given as an int or a string of digits."""
    if isinstance(ref, str) and not (ref.isascii() and ref.isdigit()):
        found = find_campaign_by_name(conn, ref)
    elif int(ref) > _MAX_ID:  # no such id; PostgreSQL would refuse the comparison
        found = None
    else:
        row = conn.execute(_campaign_select.where(campaigns.c.id == int(ref))).mappings().first()
        found = _campaign(row) if row else None
    if found is None:
        raise NotFoundError(f"campaign {ref!r} not found", details={"campaign": str(ref)})
    return found


def campaign_names(conn: Connection, ids: Collection[int]) -> dict[int, str]:
    """The names of these campaigns (ids with no campaign are left out)."""
    if not ids:
        return {}
    query = sa.select(campaigns.c.id, campaigns.c.name).where(campaigns.c.id.in_(set(ids)))
    return {int(row.id): str(row.name) for row in conn.execute(query)}


def list_campaigns(conn: Connection, flt: CampaignFilter) -> list[Campaign]:
    query = _campaign_select.order_by(campaigns.c.id).limit(flt.limit)
    if flt.name_prefix:
        query = query.where(campaigns.c.name.startswith(flt.name_prefix, autoescape=True))
    if flt.after_id is not None:
        query = query.where(campaigns.c.id > flt.after_id)
    return [_campaign(row) for row in conn.execute(query).mappings()]


def add_spec_version(
    conn: Connection,
    campaign_id: CampaignId,
    *,
    spec_hash: str,
    yaml_text: str,
    canonical_json: str,
    created_by: str,
    now: datetime,
) -> SpecVersion:
    """Append the next version. The caller holds `lock_campaign`, so numbering can't race."""
    next_version = (
        sa.select(sa.func.coalesce(sa.func.max(spec_versions.c.version), 0) + 1)
        .where(spec_versions.c.campaign_id == campaign_id)
        .scalar_subquery()
    )
    row = (
        conn.execute(
            sa.insert(spec_versions)
            .values(
                campaign_id=campaign_id,
                version=next_version,
                spec_hash=spec_hash,
                yaml_text=yaml_text,
                canonical_json=canonical_json,
                created_by=created_by,
                created_at=now,
            )
            .returning(spec_versions)
        )
        .mappings()
        .one()
    )
    return _spec_version(row)


def find_spec_version_by_hash(
    conn: Connection, campaign_id: CampaignId, spec_hash: str
) -> SpecVersion | None:
    row = (
        conn.execute(
            sa.select(spec_versions)
            .where(
                spec_versions.c.campaign_id == campaign_id,
                spec_versions.c.spec_hash == spec_hash,
            )
            .order_by(spec_versions.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return _spec_version(row) if row else None


def get_spec_version(conn: Connection, campaign_id: CampaignId, version: int) -> SpecVersion:
    row = (
        conn.execute(
            sa.select(spec_versions).where(
                spec_versions.c.campaign_id == campaign_id,
                spec_versions.c.version == version,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(
            f"spec version {version} not found",
            details={"campaign_id": campaign_id, "version": version},
        )
    return _spec_version(row)


def list_spec_versions(conn: Connection, campaign_id: CampaignId) -> list[SpecVersion]:
    rows = conn.execute(
        sa.select(spec_versions)
        .where(spec_versions.c.campaign_id == campaign_id)
        .order_by(spec_versions.c.version)
    ).mappings()
    return [_spec_version(row) for row in rows]
