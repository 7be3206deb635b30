"""Writes the generated docs: docs/settings.md from the Settings model and
docs/campaign-spec.schema.json from the spec models. A test checks both are current.

Run: uv run python scripts/gen_docs.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from shoal.config import PROFILE_DEFAULTS, Settings
from shoal.spec import spec_json_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"
SETTINGS_DOC = DOCS / "settings.md"
SCHEMA_DOC = DOCS / "campaign-spec.schema.json"

HEADER = """\
# Settings

Shoal reads its settings from `SHOAL_*` environment variables and, if `SHOAL_CONFIG_FILE`
names one, a TOML file (keys are the lower-case names below without the prefix, e.g.
`api_port = 8420`). Environment variables win over the file. Secret values are never
printed: `repr()`, logs and errors show `**********`.

This table is generated from `src/shoal/config.py` by `scripts/gen_docs.py`.

| variable | type | default | secret | description |
|---|---|---|---|---|
"""


def _type_name(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("<class '", "").replace("'>", "").replace("pydantic.types.", "")
    return text.replace("|", "or")


def render_schema() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"


def render_settings() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        if name in PROFILE_DEFAULTS["dotcom"]:
            default = "by profile: " + ", ".join(
                f"{profile} `{values[name]}`" for profile, values in PROFILE_DEFAULTS.items()
            )
        elif field.default_factory is not None:
            default = "(computed: ~/.local/share/shoal)" if name == "data_dir" else "(computed)"
        elif field.default is PydanticUndefined or field.default is None:
            default = ""
        else:
            default = f"`{field.default}`"
        secret = (
            "yes" if "SecretStr" in str(field.annotation) or field.annotation is SecretStr else ""
        )
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `SHOAL_{name.upper()}` | {_type_name(field.annotation)} | {default} | {secret} "
            f"| {description} |"
        )
    return HEADER + "\n".join(rows) + "\n"


GENERATED = {SETTINGS_DOC: render_settings, SCHEMA_DOC: render_schema}

if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    for path, render in GENERATED.items():
        path.write_text(render())
        sys.stdout.write(f"wrote {path}\n")
