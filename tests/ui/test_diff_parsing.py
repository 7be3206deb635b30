"""Reading a `git diff --binary` into the viewer's files and lines: names as git quotes them,
renames, binary files, the line numbers of each side, side-by-side pairing, the bounds, and
characters that would read differently than they are."""

from __future__ import annotations

import pytest

from shoal.ui import diffs
from shoal.ui.diffs import parse_patch

PATCH = b"""\
diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,4 +1,5 @@
 import os
-x = 1
-y = 2
+x = 10
+y = 20
+z = 30
 print(x)
@@ -10,2 +11,2 @@ def f():
-    return 1
+    return 2
\\ No newline at end of file
diff --git a/old name.txt b/new name.txt
similarity index 100%
rename from old name.txt
rename to new name.txt
diff --git "a/caf\\303\\251.md" "b/caf\\303\\251.md"
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ "b/caf\\303\\251.md"
@@ -0,0 +1 @@
+bonjour
diff --git a/logo.png b/logo.png
index 4444444..5555555 100644
GIT binary patch
literal 3
KcmZQzWC8#H2LJ>B

literal 3
KcmYew%mV-dX#qL_

diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 6666666..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""


def test_files_names_renames_and_binary_files() -> None:
    files = parse_patch(PATCH).files
    assert [(f.path, f.old_path, f.binary, f.renamed) for f in files] == [
        ("app.py", "app.py", False, False),
        ("new name.txt", "old name.txt", False, True),
        ("café.md", None, False, False),
        ("logo.png", "logo.png", True, False),
        ("gone.txt", "gone.txt", False, False),
    ]
    assert files[1].lines == [] and files[3].lines == []
    assert [(x.kind, x.old_no, x.new_no, x.text) for x in files[4].lines] == [
        ("hunk", None, None, "@@ -1 +0,0 @@"),
        ("del", 1, None, "bye"),
    ]


def test_line_numbers_follow_each_hunk() -> None:
    app = parse_patch(PATCH).files[0]
    numbered = [(x.kind, x.old_no, x.new_no) for x in app.lines]
    assert numbered == [
        ("hunk", None, None),
        ("context", 1, 1),
        ("del", 2, None),
        ("del", 3, None),
        ("add", None, 2),
        ("add", None, 3),
        ("add", None, 4),
        ("context", 4, 5),
        ("hunk", None, None),
        ("del", 10, None),
        ("add", None, 11),
        ("note", None, None),
    ]


def test_side_by_side_pairs_deletions_with_the_additions_after_them() -> None:
    app = parse_patch(PATCH).files[0]
    rows = [
        (r.left.text if r.left else None, r.right.text if r.right else None, bool(r.hunk))
        for r in app.rows()
    ]
    assert rows == [
        (None, None, True),
        ("import os", "import os", False),
        ("x = 1", "x = 10", False),
        ("y = 2", "y = 20", False),
        (None, "z = 30", False),
        ("print(x)", "print(x)", False),
        (None, None, True),
        ("    return 1", "    return 2", False),
        (None, None, True),  # the "no newline" note spans both sides
    ]


def test_python_is_highlighted_with_classes_and_escaped() -> None:
    patch = b"diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+s = '<b>'\n"
    (line,) = [x for x in parse_patch(patch).files[0].lines if x.kind == "add"]
    assert line.html is not None
    assert "&lt;b&gt;" in line.html and "<b>" not in line.html
    assert 'class="' in line.html and "style=" not in line.html


def test_control_and_bidi_characters_are_shown_not_obeyed() -> None:
    patch = (
        "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -0,0 +1 @@\n"
        "+access = 'user\u202e \u2066// admin'\x1b[2J\n"
    ).encode()
    (line,) = [x for x in parse_patch(patch).files[0].lines if x.kind == "add"]
    assert "\u202e" not in line.text and "\\u202e" in line.text
    assert "\x1b" not in line.text and "\\x1b" in line.text


@pytest.mark.parametrize("lines", [diffs.MAX_FILE_LINES - 1, diffs.MAX_FILE_LINES + 50])
def test_a_long_file_shows_its_first_lines_and_counts_the_rest(lines: int) -> None:
    body = "".join(f"+{n}\n" for n in range(lines))
    patch = f"diff --git a/n b/n\n--- /dev/null\n+++ b/n\n@@ -0,0 +1,{lines} @@\n{body}"
    shown = parse_patch(patch.encode()).files[0]
    assert len(shown.lines) == min(lines + 1, diffs.MAX_FILE_LINES)
    assert shown.hidden_lines == max(lines + 1 - diffs.MAX_FILE_LINES, 0)


def test_a_long_line_is_cut_and_a_cut_patch_drops_its_last_partial_line() -> None:
    long = "x" * (diffs.MAX_LINE_CHARS + 10)
    patch = f"diff --git a/n b/n\n--- a/n\n+++ b/n\n@@ -1 +1 @@\n-{long}\n+half".encode()
    shown = parse_patch(patch, truncated=True)
    kept = shown.files[0]
    assert shown.truncated and [x.kind for x in kept.lines] == ["hunk", "del"]
    assert kept.lines[1].text.endswith("(10 more characters)")
    assert len(kept.lines[1].text) < diffs.MAX_LINE_CHARS + 40
