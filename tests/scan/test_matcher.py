"""The matcher: each edit type is found with spans in the right place; boilerplate traps are not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distillguard.index.build import IndexBuilder
from distillguard.index.store import Index
from distillguard.ledger import Ledger
from distillguard.model import Match, NewOutput
from distillguard.scan.matcher import Matcher, MatchParams
from tests.samples import (
    HOST,
    JS_OUTPUT,
    JS_RENAMED,
    LICENSE_HEADER,
    PROSE_EDITED,
    PROSE_OUTPUT,
    PY_OUTPUT,
    PY_REFORMATTED,
    PY_RENAMED,
    PY_SIBLING,
    TRIVIAL,
    embed,
)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("matcher")
    with Ledger(f"sqlite:///{tmp / 'ledger.db'}") as ledger:
        ids = {
            name: ledger.record(NewOutput(vendor=vendor, model="m", text=text)).id
            for name, text, vendor in (
                ("py", LICENSE_HEADER + "\n" + PY_OUTPUT, "anthropic"),
                ("js", JS_OUTPUT, "openai"),
                ("prose", PROSE_OUTPUT, "anthropic"),
                ("trivial", TRIVIAL, "anthropic"),
                ("internal", PY_SIBLING, "metacode"),
                ("one_liner", ONE_LINER, "anthropic"),
            )
        }
        IndexBuilder(ledger, tmp / "index").build()
    yield tmp / "index", ids


ONE_LINER = (
    "def _argcheck(self, n, p):\n    return (n >= 0) & _isintegral(n) & (p >= 0) & (p <= 1)\n"
)


def match(
    root: Path, text: str, wanted: frozenset[str] = frozenset({"anthropic", "openai"})
) -> list[Match]:
    return Matcher(Index.open(root), wanted.__contains__).match([text])[0]


def partial(text: str, share: float, skip: int = 1) -> str:
    lines = text.splitlines(keepends=True)
    keep = max(1, int(len(lines) * share))
    return "".join(lines[skip : skip + keep])


def lines_edited(text: str) -> str:
    lines = text.splitlines(keepends=True)
    del lines[3]
    del lines[7]
    lines.insert(5, "        audit.record(start, end)  # new line\n")
    lines.insert(11, "    stats.incr('merge')\n")
    return "".join(lines)


EDITS = {
    "verbatim": ("py", PY_OUTPUT),
    "renamed": ("py", PY_RENAMED),
    "reformatted": ("py", PY_REFORMATTED),
    "partial_60": ("py", partial(PY_OUTPUT, 0.6)),
    "lines_edited": ("py", lines_edited(PY_OUTPUT)),
    "combined": ("py", partial(PY_RENAMED, 0.7, skip=2)),
    "js_verbatim": ("js", JS_OUTPUT),
    "js_renamed_reformatted": ("js", JS_RENAMED),
    "prose_edited": ("prose", PROSE_EDITED),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_edit_type_is_found_with_spans_inside_the_insert(
    outputs: tuple[Path, dict[str, str]], edit: str
) -> None:
    root, ids = outputs
    name, snippet = EDITS[edit]
    doc, start, end = embed(snippet)
    found = match(root, doc)
    assert [m.output_id for m in found] == [ids[name]]
    best = found[0]
    assert best.containment >= 0.4 and best.vendor in ("anthropic", "openai")
    covered = sum(e - s for s, e in best.spans)
    inside = sum(min(e, end) - max(s, start) for s, e in best.spans if s < end and e > start)
    assert inside / covered > 0.95
    assert inside / len(snippet.strip()) > 0.4


def test_spans_are_str_offsets_past_non_ascii_text(outputs: tuple[Path, dict[str, str]]) -> None:
    root, _ = outputs
    prefix = "# Ünïcödé — “quotes” 日本語\n"
    plain = match(root, embed(PY_OUTPUT)[0])[0].spans
    doc, start, end = embed(PY_OUTPUT, host=prefix + HOST)
    spans = match(root, doc)[0].spans
    assert spans == tuple((s + len(prefix), e + len(prefix)) for s, e in plain)
    assert spans[0][0] >= start and spans[-1][1] <= end


@pytest.mark.parametrize(
    "trap",
    [
        "host_only",
        "sibling",
        "license_header",
        "trivial",
        "prose_sentence",
        "internal_vendor",
        "one_liner",
    ],
)
def test_boilerplate_and_near_misses_never_flag(
    outputs: tuple[Path, dict[str, str]], trap: str
) -> None:
    root, _ = outputs
    docs = {
        "host_only": HOST,
        "sibling": embed(PY_SIBLING)[0],
        "license_header": LICENSE_HEADER + HOST,
        "trivial": embed(TRIVIAL)[0],
        "prose_sentence": "Note: " + PROSE_OUTPUT.split(". ")[0] + ".",
        "internal_vendor": embed(PY_SIBLING)[0],
        "one_liner": embed(ONE_LINER)[0],
    }
    assert match(root, docs[trap]) == []


def test_internal_vendor_is_found_only_when_asked(outputs: tuple[Path, dict[str, str]]) -> None:
    root, ids = outputs
    doc = embed(PY_SIBLING)[0]
    found = match(root, doc, frozenset({"anthropic", "openai", "metacode"}))
    assert [m.output_id for m in found] == [ids["internal"]]


def test_a_batch_keeps_documents_apart(outputs: tuple[Path, dict[str, str]]) -> None:
    root, ids = outputs
    texts = [HOST, embed(PY_OUTPUT)[0], "", embed(JS_OUTPUT)[0], PROSE_OUTPUT]
    found = Matcher(Index.open(root), {"anthropic", "openai"}.__contains__).match(texts)
    assert [[m.output_id for m in f] for f in found] == [
        [],
        [ids["py"]],
        [],
        [ids["js"]],
        [ids["prose"]],
    ]


def _filler(n: int) -> str:
    """Unrelated code with fingerprints of its own: every function differs in logic and strings."""
    return "".join(
        f"def step_{i}(cfg, rows):\n"
        f"    limit = cfg.get('limit_{i}', {i + 3})\n"
        f"    kept = [r for r in rows if r.score > limit * {i + 1}]\n"
        f"    if len(kept) < {i}:\n"
        f"        raise ValueError('too few rows at step {i}: %d' % len(kept))\n"
        f"    return sorted(kept, key=lambda r: r.name_{i % 5})[:{i * 7}]\n\n"
        for i in range(n)
    )


def test_a_few_shared_pieces_scattered_through_a_long_file_are_not_a_copy(
    outputs: tuple[Path, dict[str, str]],
) -> None:
    root, ids = outputs
    lines = PY_OUTPUT.splitlines(keepends=True)
    pieces = ["".join(lines[i : i + 5]) for i in (0, 6, 12)]
    scattered = _filler(6).join(["", *pieces, ""])
    together = _filler(6) + "".join(pieces) + _filler(6)
    index = Index.open(root)
    lenient = Matcher(index, {"anthropic"}.__contains__, MatchParams(min_density=0.0))
    strict = Matcher(index, {"anthropic"}.__contains__)
    # Containment and size alone would call the scattered pieces a copy; density does not.
    assert [m.output_id for m in lenient.match([scattered])[0]] == [ids["py"]]
    assert strict.match([scattered])[0] == []
    assert [m.output_id for m in strict.match([together])[0]] == [ids["py"]]


DOCUMENTED = """/**
 * Retries an asynchronous operation with exponential backoff until it succeeds, the
 * attempt budget is spent, or the caller's abort signal fires. Each failed attempt waits
 * twice as long as the previous one, plus a random jitter of up to a quarter of the delay,
 * so that many clients retrying at once do not hammer the server in lockstep. Errors that
 * the predicate marks as permanent are rethrown at once without further attempts.
 */
export async function retryWithBackoff(operation, { attempts = 5, baseDelay = 100 } = {}) {
  let delay = baseDelay;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= attempts) throw error;
      const jitter = Math.random() * delay * 0.25;
      await new Promise((resolve) => setTimeout(resolve, delay + jitter));
      delay *= 2;
    }
  }
}
"""


def test_code_read_as_words_needs_more_containment_than_prose(tmp_path: Path) -> None:
    # The same third of a paragraph is evidence of a prose answer, not of a code answer whose
    # comment holds it: for code, the text channel is a weak, rename-blind view.
    paragraph = " ".join(
        line.lstrip(" *") for line in DOCUMENTED.splitlines()[1:6]
    )  # the comment, as prose
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        code_id = ledger.record(NewOutput(vendor="anthropic", model="m", text=DOCUMENTED)).id
        prose_id = ledger.record(NewOutput(vendor="anthropic", model="m", text=paragraph)).id
        IndexBuilder(ledger, tmp_path / "index").build()
    index = Index.open(tmp_path / "index")
    third = paragraph[: paragraph.index("the delay,") + len("the delay.")]
    doc = f"# Networking helpers\n\nHow to call the service.\n\n{third}\n\nLogging levels.\n"

    def found(params: MatchParams) -> set[str]:
        return {m.output_id for m in Matcher(index, "anthropic".__eq__, params).match([doc])[0]}

    assert found(MatchParams()) == {prose_id}
    assert found(MatchParams(code_text_containment=0.25)) == {prose_id, code_id}


SMALL = (
    "def schedule_nightly_rebuild(cluster):\n"
    "    controller = cluster.replication_controller\n"
    "    return controller.schedule_rebuild(cluster.maintenance_window_start)\n"
)


def test_a_small_output_found_whole_counts_with_two_fingerprints(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        small = ledger.record(NewOutput(vendor="anthropic", model="m", text=SMALL)).id
        IndexBuilder(ledger, tmp_path / "index").build()
    index = Index.open(tmp_path / "index")
    assert int(index.outputs.nfp_code[0]) == 2
    doc = embed(SMALL)[0]
    half = embed(SMALL.splitlines(keepends=True)[0] + SMALL.splitlines(keepends=True)[2])[0]

    def found(text: str, params: MatchParams) -> list[str]:
        return [m.output_id for m in Matcher(index, "anthropic".__eq__, params).match([text])[0]]

    assert found(doc, MatchParams()) == [small]
    assert found(doc, MatchParams(whole_fingerprints=3)) == []  # the rule is what finds it
    assert found(half, MatchParams()) == []
