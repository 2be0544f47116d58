"""Parsing ``git diff -U0``: added line numbers per new path."""

from __future__ import annotations

from distillguard.capture.git.diff import parse_added, unquote_c

DIFF = b"""diff --git a/src/a.py b/src/a.py
index 1111111..2222222 100644
--- a/src/a.py
+++ b/src/a.py
@@ -3,0 +4,2 @@ def f():
+x = 1
+++ this added line starts with two plus signs
@@ -10 +12 @@
-old
+new
@@ -20,3 +22,0 @@
-gone
-gone
-gone
diff --git a/old.py b/"new name \\303\\251.py"
similarity index 90%
rename from old.py
rename to "new name \\303\\251.py"
--- a/old.py
+++ "b/new name \\303\\251.py"
@@ -1 +1 @@
-a
+b
diff --git a/deleted.py b/deleted.py
deleted file mode 100644
--- a/deleted.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x
-y
diff --git a/img.png b/img.png
new file mode 100644
Binary files /dev/null and b/img.png differ
"""


def test_added_lines_per_new_path() -> None:
    added = parse_added(DIFF)
    assert set(added) == {"src/a.py", "new name é.py"}
    assert added["src/a.py"].lines == (4, 5, 12)
    assert added["new name é.py"].lines == (1,)


def test_unquote_c() -> None:
    assert unquote_c(r"a\tb\"c\\d") == 'a\tb"c\\d'
    assert unquote_c(r"caf\303\251") == "café"
