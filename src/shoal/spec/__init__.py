"""Campaign specs (REQ-003): the YAML format, its validation, canonical JSON, hash and schema.

This package owns everything about what a spec document may say and how a document maps to a
`CampaignSpec`: precise, positioned error messages for authors, the normalization that makes
`spec_hash` independent of YAML style, and the JSON Schema published for editors. It does no
I/O and imports no other `shoal` package.
"""

from shoal.spec.canonical import canonical_json, spec_hash
from shoal.spec.changeset import AutoMerge, Changeset, Commit, CommitAuthor
from shoal.spec.durations import format_duration, parse_duration
from shoal.spec.errors import SpecInvalidError, SpecIssue
from shoal.spec.images import image_issues
from shoal.spec.models import CampaignSpec
from shoal.spec.parse import ParsedSpec, parse_spec
from shoal.spec.policy import DriftPolicy, Policy, PublishLimits
from shoal.spec.schema import SCHEMA_ID, spec_json_schema
from shoal.spec.selection import (
    ExcludeRule,
    InstallationSource,
    OrgSource,
    ReposSource,
    SearchSource,
    Source,
)
from shoal.spec.steps import Step

__all__ = [
    "SCHEMA_ID",
    "AutoMerge",
    "CampaignSpec",
    "Changeset",
    "Commit",
    "CommitAuthor",
    "DriftPolicy",
    "ExcludeRule",
    "InstallationSource",
    "OrgSource",
    "ParsedSpec",
    "Policy",
    "PublishLimits",
    "ReposSource",
    "SearchSource",
    "Source",
    "SpecInvalidError",
    "SpecIssue",
    "Step",
    "canonical_json",
    "format_duration",
    "image_issues",
    "parse_duration",
    "parse_spec",
    "spec_hash",
    "spec_json_schema",
]
