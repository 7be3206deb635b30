"""The published JSON Schema and the example specs agree with the parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from shoal.spec import SCHEMA_ID, parse_spec, spec_json_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELINE = "# yaml-language-server: $schema=../docs/campaign-spec.schema.json"
# examples/ also holds other kinds of YAML (simulator seeds); campaign specs declare the schema.
SPEC_EXAMPLES = sorted(
    path for path in EXAMPLES.glob("*.yaml") if path.read_text().startswith(MODELINE + "\n")
)


def load_plain(path: Path) -> Any:
    # As an editor's YAML 1.2 parser sees it: PyYAML (YAML 1.1) reads the key `on` as True.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = spec_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_there_are_realistic_examples() -> None:
    names = {path.stem for path in SPEC_EXAMPLES}
    assert {"bump-checkout-v4", "python-312-base-image", "rename-master-to-main"} <= names
    assert len(names) >= 4


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=[path.stem for path in SPEC_EXAMPLES])
def test_example_parses_and_is_named_after_its_file(path: Path) -> None:
    parsed = parse_spec(path.read_bytes(), source=str(path))
    assert parsed.spec.name == path.stem


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=[path.stem for path in SPEC_EXAMPLES])
def test_schema_accepts_example(validator: Draft202012Validator, path: Path) -> None:
    errors = [error.message for error in validator.iter_errors(load_plain(path))]
    assert errors == []


def test_schema_accepts_canonical_json(validator: Draft202012Validator) -> None:
    for path in SPEC_EXAMPLES:
        canonical = yaml.safe_load(parse_spec(path.read_text()).canonical_json)
        assert list(validator.iter_errors(canonical)) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(stepz=[]), "'stepz' does not match any of the regexes"),
        (lambda d: d["steps"][0].update(timout="5m"), "'timout' was unexpected"),
        (lambda d: d["steps"][0].update(timeout="soon"), "'soon' is not valid"),
        (lambda d: d.update(on=[]), "should be non-empty"),
        (lambda d: d["policy"].update(drift="yolo"), "'yolo' is not valid under any"),
        (lambda d: d["policy"].update(drift={"foreign": "overwrite"}), "is not valid under any"),
        (lambda d: d["on"].append({"org": "acme", "repos": ["a/b"]}), "is not valid under any"),
        (lambda d: d["steps"][0].update(image="Alpine:3"), "is not valid under any"),
    ],
    ids=[
        "unknown-field",
        "unknown-step-field",
        "bad-duration",
        "empty-on",
        "bad-enum",
        "unknown-drift-kind",
        "two-source-kinds",
        "bad-image-reference",
    ],
)
def test_schema_rejects(validator: Draft202012Validator, mutate: Any, fragment: str) -> None:
    data = load_plain(EXAMPLES / "bump-checkout-v4.yaml")
    mutate(data)
    messages = [error.message for error in validator.iter_errors(data)]
    assert any(fragment in message for message in messages), messages


def test_schema_header() -> None:
    schema = spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID == "https://shoal.dev/schemas/campaign-spec.json"
    assert schema["title"] == "Shoal campaign spec"
    assert set(schema["required"]) == {"name", "on", "steps", "changeset"}


def test_every_field_is_described() -> None:
    schema = spec_json_schema()
    objects = [schema, *schema["$defs"].values()]
    undescribed = [
        f"{obj['title']}.{name}"
        for obj in objects
        for name, prop in obj.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []
    assert all(obj.get("description") for obj in objects)


def test_schema_describes_input_durations() -> None:
    timeout = spec_json_schema()["$defs"]["Step"]["properties"]["timeout"]
    assert {"type": "integer", "minimum": 1, "maximum": 7200} in timeout["oneOf"]
    string = next(option for option in timeout["oneOf"] if option["type"] == "string")
    assert "pattern" in string
