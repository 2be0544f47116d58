"""Detection where assistants' answers really end up: SQL in any keyword case, prose inside
code, and an agent's small edit inside the company's own quoted code."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from distillguard.fingerprint import (
    EncodedBatch,
    FingerprintConfig,
    Fingerprinter,
    layout,
    split_segments,
)
from distillguard.fingerprint.normalize import code_prose
from distillguard.index.build import IndexBuilder
from distillguard.index.sets import output_sets
from distillguard.index.store import Index
from distillguard.ledger import Ledger
from distillguard.model import Match, NewOutput
from distillguard.scan.formats import csv as company_module
from distillguard.scan.matcher import Matcher

SQL = """SELECT u.name, COUNT(o.id) AS order_count, SUM(o.total) AS revenue
FROM users u
LEFT JOIN orders o ON o.user_id = u.id AND o.status IS NOT NULL
WHERE u.active = TRUE AND o.created_at > NOW() - INTERVAL '30 days'
GROUP BY u.name
HAVING COUNT(o.id) > 5 OR SUM(o.total) IS NULL
ORDER BY revenue DESC
LIMIT 100;
"""
SQL_WORDS = ("SELECT", "FROM", "LEFT JOIN", " ON ", "WHERE", " AND ", " IS NOT NULL", "TRUE",
             "NOW", "INTERVAL", "GROUP BY", "HAVING", " OR ", " IS NULL", "ORDER BY", "DESC",
             "LIMIT", " AS ", "COUNT", "SUM")  # fmt: skip

DOCSTRING_HEAVY = '''def rebalance_shards(shards, target, *, dry_run=False):
    """Move keys between shards until every shard holds close to ``target`` keys.

    The shards are visited from the fullest to the emptiest. Keys are taken from the tail of an
    overfull shard and appended to the emptiest shard that still has room, so the relative
    order of keys inside a shard never changes and a reader that scans a shard front to back
    sees every key it saw before, exactly once.

    With ``dry_run`` nothing is moved: the planned moves are returned so an operator can review
    them first. The plan is deterministic for a given input, which makes it safe to compute on
    one host and apply on another.
    """
    plan = []
    for src in sorted(shards, key=len, reverse=True):
        while len(src) > target:
            dst = min(shards, key=len)
            plan.append((src, dst, src[-1]))
            if not dry_run:
                dst.append(src.pop())
    return plan
'''


def lowercase_keywords(sql: str) -> str:
    for word in SQL_WORDS:
        sql = sql.replace(word, word.lower())
    return sql


def code_prints(text: str, version: int = FingerprintConfig().version) -> set[int]:
    fp = Fingerprinter(FingerprintConfig(version=version))
    return set(fp.code(EncodedBatch([text])).hash.tolist())


def test_sql_keyword_case_does_not_change_fingerprints() -> None:
    lowered = lowercase_keywords(SQL)
    assert lowered != SQL and "select u.name" in lowered
    assert code_prints(lowered) == code_prints(SQL)
    old = code_prints(SQL, version=5)
    assert len(old & code_prints(lowered, version=5)) < len(old)  # what version 6 fixed


def test_dash_and_markup_comments_are_comments_and_decrements_are_not() -> None:
    commented = "-- top customers of the month\n" + SQL.replace(
        "GROUP BY", "-- one row per customer\nGROUP BY"
    )
    assert code_prints(commented) == code_prints(SQL)
    html = "<ul>\n  <li>{{ name }}</li>\n  <li>{{ email }}</li>\n  <li>{{ phone }}</li>\n</ul>\n"
    assert code_prints(html.replace("<ul>", "<!-- contact card -->\n<ul>")) == code_prints(html)
    loop = "for (let i = n; i > 0; i--) {\n  total -= weights[i] * values[i] - bias;\n}\n" * 3
    assert code_prints(loop) != code_prints(loop.replace("i--", "i++"))
    shell = "exec python -m app --workers 4 --timeout 30 --log-level info --bind 0.0.0.0:80\n"
    assert code_prints(shell * 2) != code_prints((shell * 2).replace("--timeout 30", ""))


def test_the_prose_inside_code_is_read_as_prose() -> None:
    prose = code_prose(DOCSTRING_HEAVY)
    assert prose.startswith("Move keys between shards") and "deterministic" in prose
    assert '"""' not in prose and "def " not in prose
    fenced = "Here is the function:\n\n```python\n" + DOCSTRING_HEAVY + "```\n"
    channels = [channel for _, channel in split_segments(fenced)]
    assert channels.count(1) >= 2  # the answer's words and the docstring's, both prose
    licensed = "# Copyright 2024 Example Corp. Licensed under the Apache License.\nx = 1\n"
    assert code_prose(licensed) == ""
    # An answer with paragraphs of its own reads its docstrings as prose too: each is the
    # evidence of its own part, so the docstring never dilutes what a copied paragraph weighs.
    explained = (
        "The function walks the shards from the fullest to the emptiest and moves keys from the"
        " tail of each overfull shard, so readers see every key exactly once.\n\n" + fenced
    )
    shape = layout(explained)
    prose = [p for p in shape.pieces if p.channel == 1]
    assert [p.text.split()[:2] for p in prose] == [["The", "function"], ["Move", "keys"]]
    assert [shape.parts[p.parts[0]].kind for p in prose] == ["prose", "code"]


@pytest.fixture
def index_of(tmp_path: Path) -> Callable[..., Path]:
    def build(*outputs: NewOutput) -> Path:
        with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
            for output in outputs:
                ledger.record(output)
            IndexBuilder(ledger, tmp_path / "index").build()
        return tmp_path / "index"

    return build


def found(root: Path, text: str) -> list[Match]:
    return Matcher(Index.open(root), lambda vendor: True).match([text])[0]


def test_a_docstring_heavy_function_copied_verbatim_is_found(index_of) -> None:  # type: ignore[no-untyped-def]
    answer = "Sure, this keeps the order of keys:\n\n```python\n" + DOCSTRING_HEAVY + "```\n"
    root = index_of(NewOutput(vendor="anthropic", model="m", text=answer))
    host = "import logging\n\nlog = logging.getLogger(__name__)\n\n\n"
    (match,) = found(root, host + DOCSTRING_HEAVY)
    assert match.vendor == "anthropic"
    assert min(s for s, _ in match.spans) >= len(host)


def test_lowercased_sql_from_an_answer_is_found(index_of) -> None:  # type: ignore[no-untyped-def]
    root = index_of(NewOutput(vendor="openai", model="m", text="```sql\n" + SQL + "```\n"))
    (match,) = found(root, "-- monthly report\n" + lowercase_keywords(SQL))
    assert match.containment >= 0.9


COMPANY = inspect.getsource(company_module).splitlines(keepends=True)


def edit(new_lines: list[str], at: int = 120) -> tuple[str, str, str]:
    """(old_string, new_string, the file after the edit): 40 lines of the company's own code
    quoted around ``new_lines``, as Claude Code's Edit sends them."""
    old = "".join(COMPANY[at - 20 : at + 20])
    new = "".join(COMPANY[at - 20 : at]) + "".join(new_lines) + "".join(COMPANY[at : at + 20])
    after = "".join(COMPANY[: at - 20]) + new + "".join(COMPANY[at + 20 :])
    return old, new, after


def agent_answer(new: str) -> str:
    return "I'll make that change.\n\n" + new


@pytest.mark.parametrize(
    "added",
    [
        ["import os.path\n"],
        ["    # the header row is line 1: data rows start at 2\n"],
        ["    if not rows:\n", "        return None\n"],
        ["    assert fields is not None, 'fields are required here'\n"] * 3,
    ],
)
def test_a_small_edit_inside_quoted_company_code_flags_nothing(index_of, added: list[str]) -> None:  # type: ignore[no-untyped-def]
    old, new, after = edit(added)
    output = NewOutput(vendor="anthropic", model="m", text=agent_answer(new), request=old)
    root = index_of(output)
    assert found(root, after) == []


def test_a_substantial_edit_inside_quoted_code_is_still_found(index_of) -> None:  # type: ignore[no-untyped-def]
    added = [f"    {line}\n" for line in DOCSTRING_HEAVY.splitlines()]
    old, new, after = edit(added)
    root = index_of(NewOutput(vendor="anthropic", model="m", text=agent_answer(new), request=old))
    (match,) = found(root, after)
    start = after.index(new) + len("".join(COMPANY[100:120]))
    end = start + len("".join(added))
    covered = sum(min(e, end) - max(s, start) for s, e in match.spans if s < end and e > start)
    outside = sum(e - s for s, e in match.spans) - covered
    assert covered > 0.8 * (end - start) and outside < 0.25 * covered


def test_only_mostly_added_fingerprints_are_the_outputs() -> None:
    old, new, _ = edit(["    if not rows:\n", "        return None\n"])
    fp = Fingerprinter()
    unquoted = output_sets(fp, [new], [None])
    quoted = output_sets(fp, [new], [old])
    assert len(unquoted.hash) > 20 and len(quoted.hash) == 0


ANSWER_DOCKERFILE = """FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1
ENV PYTHONUNBUFFERED=1

WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

EXPOSE 8000

CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def test_a_standard_dockerfile_is_no_copy_but_a_custom_one_is(index_of) -> None:  # type: ignore[no-untyped-def]
    custom = (
        "RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev gcc"
        " && rm -rf /var/lib/apt/lists/*\n"
        "RUN useradd --create-home --shell /bin/bash ledgerd && chown -R ledgerd /app\n"
        "COPY scripts/wait-for-postgres.sh /usr/local/bin/wait-for-postgres\n"
        "HEALTHCHECK --interval=30s CMD curl -fsS http://localhost:8000/healthz || exit 1\n"
        "USER ledgerd\n"
    )
    answer = "Here's a Dockerfile:\n\n```dockerfile\n" + ANSWER_DOCKERFILE + custom + "```\n"
    root = index_of(NewOutput(vendor="anthropic", model="m", text=answer))
    ours = ANSWER_DOCKERFILE.replace("EXPOSE 8000\n\n", "").replace("main:app", "api:app")
    assert found(root, ours) == []  # the standard pattern, 7 of 9 lines shared
    (match,) = found(root, ANSWER_DOCKERFILE + custom)
    assert match.vendor == "anthropic"


def test_requests_are_read_in_bounded_batches_with_the_same_result(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from distillguard.index import sets

    edits = [edit(["    if not rows:\n", "        return None\n"], at=at) for at in (60, 90, 120)]
    big = edit([f"    {line}\n" for line in DOCSTRING_HEAVY.splitlines()], at=150)
    texts = [agent_answer(new) for _, new, _ in [*edits, big]]
    requests = [old for old, _, _ in [*edits, big]]
    fp = Fingerprinter()
    whole = output_sets(fp, texts, requests)
    monkeypatch.setattr(sets, "REQUEST_BATCH_CHARS", 10)
    batched = output_sets(fp, texts, requests)
    assert sorted(zip(whole.hash.tolist(), whole.output.tolist(), strict=True)) == sorted(
        zip(batched.hash.tolist(), batched.output.tolist(), strict=True)
    )
    counts = [whole.output.tolist().count(i) for i in range(4)]
    assert max(counts[:3]) <= 2 < 20 < counts[3]  # the small edits keep only their prose line


REGISTRY = """    def register(self, operation, function):
        '''Return OriginalCommand(operation) after registering function.

        Registration adds an operation: function pair to ._operations.
        It also adds a widget function attribute that masks the tkinter
        class instance method.  Method masking operates independently
        from command dispatch.

        If a second function is registered for the same operation, the
        first function is replaced in both places.
        '''
        self._operations[operation] = function
        setattr(self.widget, operation, function)
        return OriginalCommand(self, operation)

    def unregister(self, operation):
        '''Return the function for the operation, or None.

        Deleting the instance attribute unmasks the class attribute.
        '''
        if operation in self._operations:
            function = self._operations[operation]
"""


def test_context_lines_next_to_the_change_are_quoted_whole() -> None:
    # k-grams cannot quote the context right beside a change (each one over it crosses the
    # change, and a docstring is one token long): lines the request holds are quoted as
    # lines, so a guard added after a docstring is still a small edit.
    guarded = REGISTRY.replace(
        "        '''\n        self._operations",
        "        '''\n        if operation is None:\n"
        "            return None\n        self._operations",
    )
    assert guarded != REGISTRY
    sets = output_sets(Fingerprinter(), [agent_answer(guarded)], [REGISTRY])
    assert len(sets.hash) <= 2  # at most the answer's own line of prose


FIVE_BLOCKS = [
    (
        "python",
        '''def parse_window(spec: str) -> tuple[int, int]:
    """Parse "START-END" into a half-open range of minutes."""
    start, _, end = spec.partition("-")
    lo, hi = int(start), int(end or start)
    if hi < lo:
        raise ValueError(f"window {spec!r} ends before it starts")
    return lo, hi + 1


def busiest(windows: list[tuple[int, int]], step: int = 15) -> tuple[int, int]:
    """The ``step``-minute slot covered by most windows, and how many cover it."""
    counts: dict[int, int] = {}
    for lo, hi in windows:
        for slot in range(lo - lo % step, hi, step):
            counts[slot] = counts.get(slot, 0) + 1
    if not counts:
        return 0, 0
    slot = max(sorted(counts), key=counts.__getitem__)
    return slot, counts[slot]
''',
    ),
    (
        "go",
        """func MergeIntervals(in []Interval) []Interval {
	if len(in) == 0 {
		return nil
	}
	sort.Slice(in, func(i, j int) bool { return in[i].Start < in[j].Start })
	out := []Interval{in[0]}
	for _, iv := range in[1:] {
		last := &out[len(out)-1]
		if iv.Start <= last.End {
			if iv.End > last.End {
				last.End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}
""",
    ),
    (
        "typescript",
        """export async function fetchWithRetry(url: string, tries = 3): Promise<Response> {
  let lastError: unknown;
  for (let attempt = 0; attempt < tries; attempt++) {
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" } });
      if (res.status < 500) return res;
      lastError = new Error(`server answered ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
  }
  throw lastError;
}
""",
    ),
    ("sql", SQL),
    (
        "bash",
        """#!/usr/bin/env bash
set -euo pipefail
for shard in "$DATA_DIR"/shard-*.jsonl.zst; do
  out="$OUT_DIR/$(basename "$shard" .jsonl.zst).parquet"
  [[ -s "$out" ]] && continue
  zstd -dc "$shard" | python -m tools.to_parquet --schema schema.json > "$out.tmp"
  mv "$out.tmp" "$out"
done
""",
    ),
]
PARAGRAPH = (
    "Merging sorted intervals only needs one pass once they are ordered by their start: an "
    "interval either overlaps the last merged one, and stretches it when it ends later, or it "
    "begins a new run. Sorting dominates the cost, so the whole function runs in O(n log n) "
    "time and needs no extra memory beyond the output slice."
)


NOTES = [
    "The parser accepts a single minute as well as a range, and it rejects a window that ends "
    "before it starts instead of silently swapping the bounds, because a swapped window almost "
    "always means the caller mixed up two fields upstream.",
    "The fetch helper retries only on server errors and network failures; a client error such "
    "as a missing resource is returned at once, since asking again cannot change the answer, "
    "and the delay doubles after every attempt to spare an overloaded server.",
    "The report query keeps customers without orders in the join on purpose and filters them "
    "in the having clause, so the same statement can be reused for the churn report by "
    "flipping a single condition rather than maintaining two diverging queries.",
    "The conversion script is idempotent: shards already converted are skipped, and each "
    "result is written to a temporary file first and renamed, so an interrupted run never "
    "leaves a half-written Parquet file behind that a later run would trust.",
]


def five_block_answer() -> str:
    blocks = [f"```{lang}\n{code}```" for lang, code in FIVE_BLOCKS]
    return "\n\n".join(
        [
            "Here are the five pieces you asked for: the parser, the merge, the fetch helper, "
            "the report query and the conversion script.",
            blocks[0],
            NOTES[0],
            blocks[1],
            PARAGRAPH,
            blocks[2],
            NOTES[1],
            blocks[3],
            NOTES[2],
            blocks[4],
            NOTES[3],
            "Each piece stands alone; wire them together as your service needs.",
        ]
    )


def test_one_function_out_of_a_five_block_answer_is_found_by_its_part(index_of) -> None:  # type: ignore[no-untyped-def]
    answer = five_block_answer()
    root = index_of(NewOutput(vendor="openai", model="m", text=answer))
    go = FIVE_BLOCKS[1][1]
    host = 'package intervals\n\nimport "sort"\n\ntype Interval struct{ Start, End int }\n\n'
    (match,) = found(root, host + go.replace("iv", "span"))
    assert match.containment < 0.25  # a small share of the whole answer ...
    (part,) = [p for p in match.parts if p.kind == "code"]
    assert part.containment >= 0.5  # ... but most of one part of it
    lines = answer.splitlines()
    assert lines[part.lines[0] - 1].startswith("func MergeIntervals")
    assert min(s for s, _ in match.spans) >= len(host)


def test_one_paragraph_out_of_a_long_answer_is_found_by_its_part(index_of) -> None:  # type: ignore[no-untyped-def]
    root = index_of(NewOutput(vendor="openai", model="m", text=five_block_answer()))
    doc = "Notes from the design review.\n\n" + PARAGRAPH + "\n\nNext: benchmarks on real data."
    (match,) = found(root, doc)
    assert match.containment < 0.25
    assert [p.kind for p in match.parts] == ["prose"]


def test_parts_of_an_answer_that_are_not_in_the_document_flag_nothing(index_of) -> None:  # type: ignore[no-untyped-def]
    root = index_of(NewOutput(vendor="openai", model="m", text=five_block_answer()))
    # Same task, written independently: the same idea, none of the answer's text.
    ours = """func merge(xs []Interval) (merged []Interval) {
	sort.Slice(xs, func(a, b int) bool { return xs[a].Start < xs[b].Start })
	for _, x := range xs {
		n := len(merged)
		if n > 0 && x.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, x.End)
		} else {
			merged = append(merged, x)
		}
	}
	return merged
}
"""
    assert found(root, ours) == []


CI_BLOCK = """name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version: "1.23"
          cache: true
      - run: go vet ./...
      - run: go test -race -coverprofile=cover.out ./...
      - run: go tool cover -func=cover.out | tail -n 1
"""


def test_a_part_other_answers_also_hold_is_no_evidence_on_its_own(index_of) -> None:  # type: ignore[no-untyped-def]
    """A CI file two answers both wrote is a pattern: a document holding it is not flagged by
    that part (only by the whole rule, where the file is a large share of an answer), while
    one holding an answer's own function is."""
    first = five_block_answer() + "\n\nAnd the workflow:\n\n```yaml\n" + CI_BLOCK + "```\n"
    second = (
        "For the parser service, this workflow runs the tests on every push:\n\n```yaml\n"
        + CI_BLOCK
        + "```\n\nIt needs no secrets; the race detector doubles the run time.\n\n```python\n"
        + DOCSTRING_HEAVY
        + "```\n\nThe registry keeps the widget's own methods reachable:\n\n```python\n"
        + REGISTRY
        + "```\n"
    )
    root = index_of(
        NewOutput(vendor="openai", model="m", text=first),
        NewOutput(vendor="anthropic", model="m", text=second),
    )
    matches = found(root, ".github/workflows/ci.yml\n\n" + CI_BLOCK)
    assert all(m.vendor == "anthropic" and m.containment >= 0.25 for m in matches)
    assert all(m.parts == () for m in matches)
    (match,) = found(root, "package intervals\n\n" + FIVE_BLOCKS[1][1])
    assert match.vendor == "openai" and match.parts


def test_dependency_declarations_are_never_an_outputs_evidence() -> None:
    imports = "".join(
        f"from company.pipeline.stage{i} import Loader{i}, Writer{i}\n" for i in range(8)
    )
    body = "def run():\n    return [Loader0().load(), Writer1().write()]\n"
    fp = Fingerprinter()
    with_imports = output_sets(fp, [imports + "\n" + body], [None])
    alone = output_sets(fp, [body], [None])
    plain = set(fp.code(EncodedBatch([imports])).hash.tolist())
    assert plain and not plain & set(with_imports.hash.tolist())
    assert len(with_imports.hash) <= len(alone.hash) + 4  # a few k-grams across the seam at most
