"""Index build and update, from a real (SQLite) ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from distillguard.errors import ConfigMismatchError
from distillguard.fingerprint import FingerprintConfig
from distillguard.index.build import IndexBuilder
from distillguard.index.probe import probe
from distillguard.index.store import FORMAT, MANIFEST, Index
from distillguard.ledger import Ledger
from distillguard.model import NewOutput
from distillguard.scan.matcher import Matcher
from tests.samples import HOST, JS_OUTPUT, PROSE_OUTPUT, PY_OUTPUT, PY_SIBLING, embed


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as led:
        yield led


def record(ledger: Ledger, text: str, vendor: str = "anthropic", **kw: str) -> str:
    return ledger.record(NewOutput(vendor=vendor, model="m1", text=text, **kw)).id


def flagged(root: Path, text: str) -> set[str]:
    matcher = Matcher(Index.open(root), lambda vendor: True)
    return {m.output_id for m in matcher.match([text])[0]}


def test_build_indexes_every_output_with_its_fingerprint_count(
    ledger: Ledger, tmp_path: Path
) -> None:
    ids = [record(ledger, t) for t in (PY_OUTPUT, JS_OUTPUT, PROSE_OUTPUT)]
    root = tmp_path / "index"
    stats = IndexBuilder(ledger, root).build()
    index = Index.open(root)
    assert stats.outputs == 3 and stats.rebuilt
    assert [index.output_id(i) for i in range(3)] == ids
    code, text = np.asarray(index.outputs.nfp_code), np.asarray(index.outputs.nfp_text)
    assert code[0] > 5 and code[1] > 5  # the Python and JavaScript outputs are code
    assert text[2] > 5 and code[2] == 0  # the paragraph is prose
    assert index.manifest.has_prose
    assert index.manifest.last_seq == ledger.max_seq()


def test_update_appends_new_outputs_and_finds_them(ledger: Ledger, tmp_path: Path) -> None:
    root = tmp_path / "index"
    for i in range(8):
        record(ledger, PY_SIBLING.replace("width", f"width_{i}") + f"\n# {i}\n", source_id=str(i))
    IndexBuilder(ledger, root).build()
    new_id = record(ledger, PY_OUTPUT)
    stats = IndexBuilder(ledger, root).update()
    assert not stats.rebuilt and stats.segments == 2
    assert new_id in flagged(root, embed(PY_OUTPUT)[0])
    again = IndexBuilder(ledger, root).update()
    assert again.outputs == 9 and again.fingerprints == 0


def test_update_rebuilds_when_the_new_part_is_large(ledger: Ledger, tmp_path: Path) -> None:
    root = tmp_path / "index"
    record(ledger, PY_SIBLING)
    IndexBuilder(ledger, root).build()
    record(ledger, PY_OUTPUT)
    stats = IndexBuilder(ledger, root).update()
    assert stats.rebuilt and stats.segments == 1 and stats.outputs == 2


def test_index_refuses_to_mix_fingerprint_settings(ledger: Ledger, tmp_path: Path) -> None:
    root = tmp_path / "index"
    record(ledger, PY_OUTPUT)
    IndexBuilder(ledger, root).build()
    record(ledger, JS_OUTPUT)
    other = IndexBuilder(ledger, root, FingerprintConfig(code_k=9))
    with pytest.raises(ConfigMismatchError, match="--rebuild"):
        other.update()
    assert other.build().outputs == 2  # an explicit rebuild is fine


def test_a_reader_rebuilds_an_index_of_older_settings_instead_of_mixing(
    ledger: Ledger, tmp_path: Path
) -> None:
    # After an upgrade changes the fingerprint settings, a scan rebuilds rather than fail.
    root = tmp_path / "index"
    record(ledger, PY_OUTPUT)
    IndexBuilder(ledger, root, FingerprintConfig(version=4, code_k=13)).build()
    record(ledger, JS_OUTPUT)
    current = IndexBuilder(ledger, root)
    assert current.pending() == 2
    stats = current.update(replace_other_settings=True)
    assert stats.rebuilt and stats.outputs == 2
    assert Index.open(root).manifest.fp_config == FingerprintConfig().id
    assert not current.update(replace_other_settings=True).rebuilt  # up to date now: nothing to do


def test_fragments_common_to_many_outputs_are_suppressed(ledger: Ledger, tmp_path: Path) -> None:
    # The same helper pasted into 12 different answers is boilerplate, not evidence.
    for i in range(12):
        record(ledger, PY_SIBLING + f"\n\ndef unique_{i}(x):\n    return x * {i} + {i * 7} - x\n")
    root = tmp_path / "index"
    stats = IndexBuilder(ledger, root).build()
    assert stats.stopped > 0
    assert flagged(root, embed(PY_SIBLING)[0]) == set()


def test_no_segment_holds_a_suppressed_fingerprint(ledger: Ledger, tmp_path: Path) -> None:
    # The probe relies on it: it does not look suppressed hashes up.
    for i in range(12):
        record(ledger, PY_SIBLING + f"\n\ndef unique_{i}(x):\n    return x * {i} + {i * 7} - x\n")
    root = tmp_path / "index"
    IndexBuilder(ledger, root).build()
    record(ledger, PY_SIBLING + "\n\ndef appended(y):\n    return [y] * 3\n")
    assert not IndexBuilder(ledger, root).update().rebuilt
    index = Index.open(root)
    assert len(index.segments) == 2 and index.stop.shape[0] > 0
    hit_query, _ = probe(index, np.asarray(index.stop))
    assert hit_query.shape[0] == 0


def test_background_corpus_is_never_evidence(ledger: Ledger, tmp_path: Path) -> None:
    record(ledger, PY_OUTPUT)
    background = tmp_path / "bg"
    background.mkdir()
    (background / "common.py").write_text(PY_OUTPUT)
    root = tmp_path / "index"
    IndexBuilder(ledger, root).build(background=[str(background)])
    assert flagged(root, embed(PY_OUTPUT)[0]) == set()


def test_what_the_request_contained_is_not_attributed(ledger: Ledger, tmp_path: Path) -> None:
    # The answer quotes the user's own function and adds a new one.
    out = record(ledger, PY_SIBLING + "\n\n" + PY_OUTPUT, request="Fix this:\n" + PY_SIBLING)
    root = tmp_path / "index"
    IndexBuilder(ledger, root).build()
    assert flagged(root, embed(PY_SIBLING)[0]) == set()
    assert flagged(root, embed(PY_OUTPUT)[0]) == {out}


def test_an_index_of_an_empty_ledger_matches_nothing(ledger: Ledger, tmp_path: Path) -> None:
    root = tmp_path / "index"
    assert IndexBuilder(ledger, root).build().outputs == 0
    assert flagged(root, HOST) == set()


def test_update_rebuilds_an_index_of_an_older_format(ledger: Ledger, tmp_path: Path) -> None:
    out = record(ledger, PY_OUTPUT)
    root = tmp_path / "index"
    IndexBuilder(ledger, root).build()
    manifest = json.loads((root / MANIFEST).read_text())
    (root / MANIFEST).write_text(json.dumps({**manifest, "format": FORMAT - 1}))
    assert IndexBuilder(ledger, root).update().rebuilt
    assert flagged(root, embed(PY_OUTPUT)[0]) == {out}
