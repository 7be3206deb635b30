"""Secret masking: unit cases, then real `sh` steps printing secrets in the usual disguises."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState
from shoal.execution import RunnerLimits
from shoal.execution.redact import Redactor
from tests.execution.conftest import Execute, step

SECRET = "hunter2-correct-horse-battery"  # long enough that base64 wraps at 76 columns twice
SECRETS = {"TOKEN": SECRET}


def b64(data: bytes, *, urlsafe: bool = False, wrap: int = 0) -> bytes:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data)
    if wrap:
        text = b"\n".join(text[i : i + wrap] for i in range(0, len(text), wrap))
    return text


RAW = SECRET.encode()


@pytest.mark.parametrize(
    "printed",
    [
        RAW,
        b"\n".join(RAW[i : i + 3] for i in range(0, len(RAW), 3)),
        b"\r\n".join(RAW[i : i + 5] for i in range(0, len(RAW), 5)),
        b64(RAW),
        b64(RAW).rstrip(b"="),
        b64(RAW + b"\n"),
        b64(RAW + b"\n", wrap=20),
        b64(RAW, urlsafe=True),
        b64(RAW + b"\n", urlsafe=True).rstrip(b"="),
    ],
    ids=[
        "raw",
        "fold-3",
        "crlf-fold-5",
        "base64",
        "base64-unpadded",
        "base64-with-newline",
        "base64-wrapped",
        "urlsafe",
        "urlsafe-newline-unpadded",
    ],
)
def test_disguised_secret_is_masked(printed: bytes) -> None:
    redactor = Redactor(SECRETS)
    masked = redactor.redact(b"before " + printed + b" after\n")
    assert masked.startswith(b"before ") and masked.endswith(b" after\n")
    assert b"***" in masked
    for fragment in (b"hunter", b"horse", b"aHVudGVy"):
        assert fragment not in masked, masked


@pytest.mark.parametrize(
    "printed",
    [b"https://u:p%40ss%2Fw%3Ard@host/", b"p%40ss%2Fw%3Ard", b'{"t": "p@ss/w:rd"}'],
    ids=["url", "percent", "json"],
)
def test_escaped_secret_is_masked(printed: bytes) -> None:
    masked = Redactor({"PASSWORD": "p@ss/w:rd"}).redact(printed)
    assert b"***" in masked and b"ss" not in masked


@pytest.mark.parametrize("lead", [0, 1, 2, 5], ids=["aligned", "lead-1", "lead-2", "lead-5"])
def test_secret_inside_a_larger_base64_text_is_masked(lead: int) -> None:
    # e.g. `base64 ~/.npmrc` or a JSON credentials file: the secret at any alignment.
    document = b"x" * lead + b'{"token": "' + RAW + b'"}\n'
    encoded = b64(document)
    masked = Redactor(SECRETS).redact(encoded)
    before, after = masked.split(b"***")
    assert encoded.startswith(before) and encoded.endswith(after)
    # The characters that depend on the secret: they change when the secret does.
    other = b64(document.replace(RAW, b"?" * len(RAW)))
    dependent = [i for i, (a, b) in enumerate(zip(encoded, other, strict=True)) if a != b]
    kept = [i for i in dependent if i < len(before) or i >= len(encoded) - len(after)]
    assert len(kept) <= 4  # at most 2 characters each side mix the secret with neighbours


def test_short_secrets_are_not_masked_but_named() -> None:
    redactor = Redactor({"PIN": "123", "EMPTY": "", "LONG": "abcd"})
    assert redactor.unmasked == ("PIN",)
    assert redactor.redact(b"123 abcd") == b"123 ***"


@pytest.mark.parametrize(
    ("secrets", "output", "expected"),
    [
        ({"A": "abab"}, b"x ababab y", b"x *** y"),
        ({"A": "first-secret", "B": "second-secret"}, b"first-secretsecond-secret!", b"***!"),
        ({"A": "one\ntwo\nthree"}, b"[one\r\ntwo\r\nthree]", b"[***]"),
        ({"A": "abcdef"}, b"abc\n\ndef abcxdef", b"*** abcxdef"),
    ],
    ids=["overlapping", "adjacent", "multiline-crlf", "breaks-only"],
)
def test_masking_spans(secrets: dict[str, str], output: bytes, expected: bytes) -> None:
    assert Redactor(secrets).redact(output) == expected


def test_no_secrets_leaves_output_alone() -> None:
    assert Redactor({}).redact(b"anything") == b"anything"


@pytest.mark.parametrize(
    ("head", "tail", "want_head", "want_tail"),
    [
        (b"log line\nhunter2-co", b"battery\nmore", b"log line\n***", b"***\nmore"),
        (b"x hunt", b"tery y", b"x ***", b"*** y"),
        (b"x hun", b"ery y", b"x hun", b"ery y"),  # 3 chars: too short to tell from noise
        (b"x hunter2-correct-horse-battery", b"y", b"x ***", b"y"),
    ],
    ids=["long-partials", "four-chars", "three-chars", "whole-secret-at-edge"],
)
def test_partial_secrets_at_truncation_edges(
    head: bytes, tail: bytes, want_head: bytes, want_tail: bytes
) -> None:
    assert Redactor(SECRETS).redact_output(head, tail, 1000) == (want_head, want_tail)


def test_nothing_dropped_means_one_text() -> None:
    # A secret across the seam of head and tail is whole when nothing was dropped.
    assert Redactor(SECRETS).redact_output(b"a hunter2-corr", b"ect-horse-battery b", 0) == (
        b"a *** b",
        b"",
    )


def test_multiline_secret_lines_are_masked_one_by_one() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\n"
    masked = Redactor({"KEY": key}).redact(b"line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n")
    assert masked == b"line: ***\n"


@pytest.mark.parametrize(
    "script",
    [
        'echo "token is $TOKEN"',
        'echo "$TOKEN" | fold -w 3',
        'echo "$TOKEN" | base64',
        'printf %s "$TOKEN" | base64',
        'printf "%s%s%s" "$TOKEN" "$TOKEN" "$TOKEN" | base64 -w 0; echo;'
        ' echo "$TOKEN" | base64 -w 8',
        'echo "$TOKEN" >&2',
    ],
    ids=["raw", "fold", "base64-echo", "base64-printf", "base64-wrapped", "stderr"],
)
def test_secret_printed_by_a_real_step_never_reaches_the_log(execute: Execute, script: str) -> None:
    done = execute([step(script, name="leaky", secrets=("TOKEN",))], None, secrets=SECRETS)
    assert done.result.state is ExecutionState.NO_CHANGE, done.log
    data = done.result.log_path.read_bytes()
    assert b"***" in data
    assert RAW not in data and b"hunter" not in data
    assert b64(RAW)[:12] not in data.replace(b"\n", b"")


def test_secret_cut_by_the_output_limit_is_masked_on_both_sides(execute: Execute) -> None:
    # 10 repetitions: the head ends and the tail starts inside a secret, wherever the cut is.
    script = 'i=0; while [ $i -lt 400 ]; do printf "%s" "$TOKEN"; i=$((i+1)); done; echo'
    done = execute(
        [step(script, secrets=("TOKEN",))],
        None,
        secrets=SECRETS,
        limits=RunnerLimits(max_step_output_bytes=1001),
    )
    data = done.result.log_path.read_bytes()
    assert done.result.steps[0].output_dropped > 0
    for i in range(4, len(RAW)):
        assert RAW[:i] + b"\n[..." not in data
        assert b"...]\n" + RAW[-i:] not in data
    assert b"hunter" not in data and b"battery" not in data


def test_short_secret_is_warned_about_in_the_log(execute: Execute, tmp_path: Path) -> None:
    done = execute([step("true", secrets=("PIN",))], None, secrets={"PIN": "42"})
    assert done.log.startswith(
        "warning: secret PIN is shorter than 4 characters and is not masked in this log\n"
    )
