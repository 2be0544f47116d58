"""Hand-written sample outputs and documents for matcher, index and CLI tests."""

from __future__ import annotations

PY_OUTPUT = '''def merge_intervals(intervals, min_gap=0):
    """Merge overlapping [start, end] intervals; gaps up to min_gap are closed too."""
    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: (pair[0], pair[1]))
    merged = [list(ordered[0])]
    for start, end in ordered[1:]:
        last = merged[-1]
        if start <= last[1] + min_gap:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
    total = 0
    for start, end in merged:
        total += end - start
    if total > 10_000:
        log.warning("merged span is unusually large: %s", total)
    return [tuple(pair) for pair in merged]
'''

PY_RENAMED = '''def combine_ranges(ranges, slack=0):
    """Merge overlapping [start, end] intervals; gaps up to min_gap are closed too."""
    if not ranges:
        return []
    srt = sorted(ranges, key=lambda p: (p[0], p[1]))
    out = [list(srt[0])]
    for lo, hi in srt[1:]:
        prev = out[-1]
        if lo <= prev[1] + slack:
            prev[1] = max(prev[1], hi)
        else:
            out.append([lo, hi])
    size = 0
    for lo, hi in out:
        size += hi - lo
    if size > 10_000:
        log.warning("merged span is unusually large: %s", size)
    return [tuple(p) for p in out]
'''

PY_REFORMATTED = """def merge_intervals(
    intervals,
    min_gap=0,
):
    # Merges intervals (docstring replaced by a comment).
    if not intervals: return []
    ordered = sorted(intervals, key=lambda pair: (pair[0], pair[1],))
    merged = [list(ordered[0])]

    for start, end in ordered[1:]:
        last = merged[-1]
        if start <= last[1] + min_gap: last[1] = max(last[1], end)
        else: merged.append([start, end])

    total = 0
    for start, end in merged: total += end - start
    if total > 10_000:
        log.warning('merged span is unusually large: %s', total)
    return [tuple(pair) for pair in merged]
"""

PY_SIBLING = '''def split_intervals(intervals, width):
    """Cut every [start, end] interval into pieces of at most width."""
    pieces = []
    for start, end in intervals:
        cursor = start
        while cursor < end:
            stop = min(end, cursor + width)
            pieces.append((cursor, stop))
            cursor = stop
    if len(pieces) > 1000:
        raise ValueError("too many pieces: %d" % len(pieces))
    return pieces
'''

JS_OUTPUT = """export function groupBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    if (!groups.has(key)) {
      groups.set(key, []);
    }
    groups.get(key).push(item);
  }
  const result = {};
  for (const [key, members] of groups) {
    result[String(key)] = members.sort((a, b) => a.rank - b.rank);
  }
  return result;
}
"""

JS_RENAMED = """export function bucketize(list, fn) {
  const m = new Map()
  for (const x of list) {
    const k = fn(x)
    if (!m.has(k)) { m.set(k, []) }
    m.get(k).push(x)
  }
  const out = {}
  for (const [k, xs] of m) {
    out[String(k)] = xs.sort((p, q) => p.rank - q.rank)
  }
  return out
}
"""

PROSE_OUTPUT = (
    "Backpressure keeps a fast producer from drowning a slow consumer. Instead of letting an "
    "unbounded queue absorb the difference until memory runs out, the consumer signals how "
    "much it can take, and the producer waits or sheds load when that budget is spent. The "
    "result is bounded latency and memory, at the price of sometimes refusing work early."
)

PROSE_EDITED = (
    "BACKPRESSURE keeps a fast producer from drowning a slow consumer; instead of letting an "
    "unbounded queue absorb the difference until memory runs out,\nthe consumer signals how much "
    "it can take — and the producer waits or sheds load when that budget is spent."
)

LICENSE_HEADER = """# Copyright (c) 2024 Example Corp.
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file
# except in compliance with the License. You may obtain a copy of the License at
#     http://www.apache.org/licenses/LICENSE-2.0
# Unless required by applicable law or agreed to in writing, software distributed under the
# License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND.
"""

HOST = '''"""Utilities for the reporting service."""

import os
import sys


def env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")


def main(argv=None):
    args = argv or sys.argv[1:]
    print("reporting", args)
    return 0
'''

TRIVIAL = 'import os\n\n\nif __name__ == "__main__":\n    main()\n'


def embed(snippet: str, host: str = HOST) -> tuple[str, int, int]:
    """``host`` with ``snippet`` inserted in its middle, and the snippet's span."""
    found = host.find("\n\n", len(host) // 2)
    cut = found if found >= 0 else len(host)
    doc = host[:cut] + "\n\n\n" + snippet + host[cut:]
    start = cut + 3
    return doc, start, start + len(snippet)
