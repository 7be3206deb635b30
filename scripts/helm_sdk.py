"""`helm template` and `helm lint` through Helm's own Go code, for machines without a `helm`
binary (its release downloads are not reachable everywhere Shoal is built; PyPI is).

helm-python-sdk ships Helm's SDK (v4) as a shared library: chart loading, value coalescing,
values.schema.json validation, the template engine and the linter are Helm's, not a
re-implementation. scripts/check-deploy.sh uses `helm` itself when it is on PATH.

    python scripts/helm_sdk.py template CHART --namespace NS [-f values.yaml ...]
    python scripts/helm_sdk.py lint CHART --namespace NS [--kube-version v1.30.0] [-f ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from helm_python.chart import Chart, lint
from helm_python.errors import HelmError


def merged(files: list[Path]) -> dict[str, Any]:
    """Values files merged as `helm -f a -f b` does: maps merge key by key, later files win."""

    def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in top.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    values: dict[str, Any] = {}
    for path in files:
        values = merge(values, yaml.safe_load(path.read_text()) or {})
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["template", "lint"])
    parser.add_argument("chart", type=Path)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--release", default="shoal")
    parser.add_argument("--kube-version", default=None)
    parser.add_argument("-f", "--values", type=Path, action="append", default=[])
    args = parser.parse_args()
    values = merged(args.values)
    try:
        if args.command == "template":
            chart = Chart.load(args.chart)
            rendered = chart.render(
                values, name=args.release, namespace=args.namespace, is_install=True
            )
            for path in sorted(rendered):
                if path.endswith("NOTES.txt") or not rendered[path].strip():
                    continue
                sys.stdout.write(f"---\n# Source: {path}\n{rendered[path].strip()}\n")
            return 0
        report = lint(
            args.chart,
            values,
            strict=True,
            namespace=args.namespace,
            kube_version=args.kube_version,
        )
    except HelmError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    severities = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    for message in report["messages"]:
        severity = severities.get(message["severity"], "UNKNOWN")
        print(f"[{severity}] {message['path']}: {message['error']}")
    failed = bool(report["errors"]) or any(m["severity"] >= 2 for m in report["messages"])
    print(f"1 chart(s) linted, {'1 chart(s) failed' if failed else '0 chart(s) failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
