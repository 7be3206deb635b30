"""Writes docs/settings.md from the Settings model (a test checks the file is current).

Run: uv run python scripts/gen_settings_doc.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from shoal.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"

HEADER = """\
# Settings

Shoal reads its settings from `SHOAL_*` environment variables and, if `SHOAL_CONFIG_FILE`
names one, a TOML file (keys are the lower-case names below without the prefix, e.g.
`api_port = 8420`). Environment variables win over the file. Secret values are never
printed: `repr()`, logs and errors show `**********`.

This table is generated from `src/shoal/config.py` by `scripts/gen_settings_doc.py`.

| variable | type | default | secret | description |
|---|---|---|---|---|
"""


def _type_name(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("<class '", "").replace("'>", "").replace("pydantic.types.", "")
    return text.replace("|", "or")


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
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


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render())
    sys.stdout.write(f"wrote {DOC}\n")
