"""Fingerprint kernels: edit tolerance, spans, and the rolling hash against a plain one."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.fingerprint import CODE, TEXT, EncodedBatch, FingerprintConfig, Fingerprinter
from distillguard.fingerprint import kernels as K

FUNC = '''def compute_total(items, tax_rate):
    """Sum the prices, with tax."""
    total = 0
    for item in items:
        total += item.price * (1 + tax_rate)  # add tax
    if total > 100:
        total = total * 0.9
    return round(total, 2)
'''

RENAMED = '''def summe(xs, rate):
    """Sum the prices, with tax."""
    acc = 0
    for x in xs:
        acc += x.price * (1 + rate)  # add tax
    if acc > 100:
        acc = acc * 0.9
    return round(acc, 2)
'''

REFORMATTED = """def compute_total(
    items,
    tax_rate,
):
    '''A different docstring entirely.'''
    # a new comment
    total = 0

    for item in items: total += item.price * (
        1 + tax_rate
    )
    if total > 100: total = total * 0.9
    return round(total, 2,)
"""


def hashes(text: str, channel: int = CODE, config: FingerprintConfig | None = None) -> set[int]:
    return set(Fingerprinter(config).of_texts([text], channel).hash.tolist())


def test_consistent_renaming_keeps_every_fingerprint() -> None:
    assert hashes(FUNC) == hashes(RENAMED)
    assert len(hashes(FUNC)) >= 3


def test_reformatting_comments_docstrings_and_quotes_keep_every_fingerprint() -> None:
    assert hashes(FUNC) == hashes(REFORMATTED)


def test_changed_logic_changes_fingerprints() -> None:
    changed = FUNC.replace("total * 0.9", "total - discount(total, items)")
    assert hashes(changed) != hashes(FUNC)
    assert hashes(changed) & hashes(FUNC)


def test_inconsistent_renaming_is_not_invisible() -> None:
    # Data flow matters: using one variable where another was is a different program.
    swapped = FUNC.replace("total += item.price", "items += item.price")
    assert hashes(swapped) != hashes(FUNC)


def test_brace_languages_drop_line_and_block_comments() -> None:
    js = "function add(a, b) {\n  // sum\n  const s = a + b; /* block */\n  return s * 2 + a;\n}\n"
    js2 = "function plus(x, y) {\n  const t = x + y\n  return t * 2 + x\n}\n"
    assert hashes(js) == hashes(js2)
    assert hashes(js)


def test_python_floor_division_is_not_a_comment() -> None:
    a = "def f(a, b):\n    q = a // b\n    r = a % b\n    return q, r, a, b, q + r\n"
    b = "def f(a, b):\n    q = a // b\n    r = a * b\n    return q, r, a, b, q + r\n"
    assert hashes(a) != hashes(b)


def test_trivial_snippets_have_no_fingerprints() -> None:
    for snippet in ("import os\n", 'if __name__ == "__main__":\n    main()\n', "return None\n"):
        assert hashes(snippet) == set()


def test_tables_and_lists_of_literals_are_no_evidence() -> None:
    strings = "banlist = (\n" + "".join(f"    'pkg.module_{i}',\n" for i in range(30)) + ")\n"
    pairs = "names = {\n" + "".join(f"    'k{i}': 'v{i}',\n" for i in range(30)) + "}\n"
    names = "__all__ = [" + ", ".join(f"name_{i}" for i in range(30)) + "]\n"
    for table in (strings, pairs, names):
        assert hashes(table) == set(), table[:40]
    assert hashes(FUNC)


def test_spans_point_at_the_kgram_in_the_original_text() -> None:
    prefix = "# héllo wörld — ünïcode prefix\n"
    text = prefix + FUNC
    batch = EncodedBatch([text])
    prints = Fingerprinter().code(batch)
    starts = batch.char_offsets(0, prints.start)
    ends = batch.char_offsets(0, prints.end)
    raw = text.encode()
    assert starts.min() >= len(prefix)
    for s, e, bs, be in zip(starts, ends, prints.start, prints.end, strict=True):
        assert text[s:e].encode() == raw[bs:be]
        assert not text[s].isspace() and not text[e - 1].isspace()


def test_prose_ignores_case_punctuation_width_and_line_breaks() -> None:
    a = "The quick brown fox jumps over the lazy dog, and then it rests in the shade."
    b = "the QUICK brown fox — jumps over\nthe lazy dog; and then it rests in the ＳＨＡＤＥ"
    assert hashes(a, TEXT) == hashes(b, TEXT)
    assert hashes(a, TEXT)


def test_prose_spans_map_back_through_nfkc() -> None:
    # "ﬁ" is one character that NFKC widens to two: offsets after it must still be right.
    text = "ﬁrst ﬁne words: the quick brown fox jumps over the lazy dog again and again."
    batch = EncodedBatch([text])
    prints = Fingerprinter().text(batch)
    starts = batch.char_offsets(0, prints.start)
    ends = batch.char_offsets(0, prints.end)
    k = FingerprintConfig().text_k
    for s, e in zip(starts, ends, strict=True):
        words = re.findall(r"\w+", unicodedata.normalize("NFKC", text[s:e]))
        assert len(words) == k, text[s:e]
        assert s == 0 or not text[s - 1].isalnum()


def test_prose_folds_unicode_case_compatibility_forms_and_punctuation() -> None:
    a = "Émile said the café was closed... so we walked on to the next village instead"
    b = "ÉMILE said\u00a0the CAFÉ was closed\u2026 so we walked on to the ｎｅｘｔ village instead"
    assert hashes(a, TEXT) == hashes(b, TEXT)
    assert hashes(a, TEXT) != hashes(a.replace("café", "cafe"), TEXT)


def test_both_channels_at_once_equal_each_channel_alone() -> None:
    texts = [FUNC, "Ünïcode prose, with a few words in it and then some more words here.", ""]
    fp = Fingerprinter()
    batch = EncodedBatch(texts)
    code, text = fp.code(batch), fp.text(batch)
    together = [a.copy() for a in fp.both(batch)]
    for got, want in zip(together, ("hash", "doc", "start", "end"), strict=True):
        expected = np.concatenate([getattr(code, want), getattr(text, want)])
        assert got.tolist() == expected.tolist()
    assert fp.both(batch, prose=False)[0].tolist() == code.hash.tolist()


def test_channels_never_collide() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    assert not hashes(text, CODE) & hashes(text, TEXT)


def test_settings_change_the_fingerprints_and_the_settings_id() -> None:
    other = FingerprintConfig(code_k=11)
    assert other.id != FingerprintConfig().id
    assert hashes(FUNC, config=other) != hashes(FUNC)


def _naive_kgrams(val: np.ndarray, ref: np.ndarray, k: int, seed: int) -> list[int]:
    mask = (1 << 64) - 1
    out = []
    for p in range(len(val) - k + 1):
        h = 0
        for j in range(k):
            h = (h * int(K.KGRAM_PRIME) + int(K._token_value(val, ref, p + j, p))) & mask
        out.append(int(K._mix(np.uint64(h ^ seed))) & ~1)
    return out


@settings(max_examples=60, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 5), min_size=1, max_size=60),
    k=st.integers(1, 12),
)
def test_rolling_kgram_hash_equals_the_plain_definition(tokens: list[int], k: int) -> None:
    # Tokens 0-2 are identifiers a/b/c (references computed as the tokenizer does), 3-5 fixed.
    n = len(tokens)
    val = np.empty(n, np.uint64)
    ref = np.full(n, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    last: dict[int, int] = {}
    for i, t in enumerate(tokens):
        if t < 3:
            val[i] = K.ID_NEW
            ref[i] = i - last[t] if t in last else 0
            if t in last:
                nxt[last[t]] = i
            last[t] = i
        else:
            val[i] = np.uint64(1000 + t)
    out = np.empty(max(n, 1), np.uint64)
    m = K._kgram_hashes(val, ref, nxt, n, k, np.uint64(7), np.uint64(0), out)
    assert out[:m].tolist() == _naive_kgrams(val, ref, k, 7)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**63), min_size=0, max_size=80), st.integers(1, 8))
def test_winnowing_picks_the_rightmost_minimum_of_every_window(values: list[int], w: int) -> None:
    hashes_ = np.array(values, dtype=np.uint64)
    picks = np.empty(max(len(values), 1), np.int64)
    count = K._winnow(hashes_, len(values), w, picks)
    expected: list[int] = []
    width = min(w, len(values))
    for s in range(len(values) - width + 1) if values else []:
        window = values[s : s + width]
        best = s + max(i for i, v in enumerate(window) if v == min(window))
        if not expected or expected[-1] != best:
            expected.append(best)
    assert picks[:count].tolist() == expected


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_text_fingerprints_without_error_and_spans_stay_inside(text: str) -> None:
    batch = EncodedBatch([text, "x = 1\n" * 5])
    fp = Fingerprinter(FingerprintConfig(code_k=3, text_k=2))
    for prints in (fp.code(batch), fp.text(batch)):
        mine = prints.doc == 0
        if mine.any():
            s = batch.char_offsets(0, prints.start[mine])
            e = batch.char_offsets(0, prints.end[mine])
            assert (s >= 0).all() and (s < e).all() and (e <= len(text)).all()


def test_attribute_and_method_names_count() -> None:
    # Renaming locals keeps fingerprints; calling another method is other code.
    a = "def f(rows, out):\n    for r in rows:\n"
    a += "        out.append(r.strip().lower())\n    return out\n"
    b = a.replace(".append(", ".extend(")
    renamed = (
        a.replace("rows", "items").replace("out", "acc").replace(" r ", " x ").replace("(r.", "(x.")
    )
    config = FingerprintConfig(code_k=5)
    assert hashes(a, config=config) == hashes(renamed, config=config)
    assert hashes(a, config=config) != hashes(b, config=config)


PARSER = """def make_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('--annotate', action='store_true', help='Annotate the source')
    parser.add_argument('--dump-ir', action='store_true', help='Print the generated IR')
    parser.add_argument('--sys-json', nargs=1, help='Save the system info as JSON')
    return parser
"""

SIBLING = """def make_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('--verbose', action='store_true', help='Say more while running')
    parser.add_argument('--quiet', action='store_true', help='Say nothing at all')
    parser.add_argument('--out-dir', nargs=1, help='Where the results are written')
    return parser
"""


def test_string_contents_count_but_quoting_does_not() -> None:
    # Two functions stamped from one template with other strings are not copies of each other.
    assert len(hashes(PARSER) & hashes(SIBLING)) <= len(hashes(PARSER)) // 4
    requoted = PARSER.replace("'", '"')
    assert hashes(requoted) == hashes(PARSER)


def test_docstrings_stay_one_token() -> None:
    redocumented = FUNC.replace("Sum the prices, with tax.", "Add up what the items cost.")
    assert hashes(redocumented) == hashes(FUNC)


def test_fingerprints_before_version_5_read_every_string_as_one_token() -> None:
    # An index keeps the settings it was built with: an older one keeps its meaning.
    old = FingerprintConfig(version=4)
    assert not old.literal_strings and FingerprintConfig().literal_strings
    assert hashes(PARSER, config=old) == hashes(SIBLING, config=old)
    assert hashes(PARSER) != hashes(PARSER, config=old)


def test_the_prose_folding_table_is_cached_and_a_bad_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.fingerprint import normalize

    cache = tmp_path / "fold.npz"
    monkeypatch.setattr(normalize, "_fold_cache_path", lambda: cache)
    built = normalize._build_fold_table()
    first = normalize.fold_table.__wrapped__()  # builds and saves
    assert cache.exists()
    second = normalize.fold_table.__wrapped__()  # reads the cache
    for got in (first, second):
        assert np.array_equal(got[0], built[0]) and np.array_equal(got[1], built[1])
    cache.write_bytes(b"not a numpy archive")
    third = normalize.fold_table.__wrapped__()
    assert np.array_equal(third[1], built[1])
