"""Fingerprint sets of recorded outputs: what the index stores for each output.

An output's set is the fingerprints of what the model *added*: its code segments in the code
channel, its prose in the text channel, minus every fingerprint that also occurs in the request
it was given (in either channel), so quoted context is never attributed to the vendor.
Ambiguous segments go in both channels. A hash's lowest bit names its channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from distillguard.fingerprint import (
    CODE,
    TEXT,
    EncodedBatch,
    FingerprintConfig,
    Fingerprinter,
    split_segments,
)
from distillguard.model import NewOutput


@dataclass(frozen=True)
class OutputSets:
    """Unique ``(hash, output)`` pairs, ``output`` indexing the texts given."""

    hash: np.ndarray
    output: np.ndarray

    @classmethod
    def empty(cls) -> OutputSets:
        return cls(np.empty(0, np.uint64), np.empty(0, np.int64))


def _pairs_of(
    fp: Fingerprinter, pieces: list[str], owners: list[int], channel: int
) -> tuple[np.ndarray, np.ndarray]:
    if not pieces:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    prints = fp.of_texts(pieces, channel)
    return prints.hash, np.asarray(owners, dtype=np.int64)[prints.doc]


def _unique_pairs(hashes: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, first = np.unique(_pair_keys(hashes, owners), return_index=True)
    return hashes[first], owners[first]


def _pair_keys(hashes: np.ndarray, owners: np.ndarray) -> np.ndarray:
    keys: np.ndarray = hashes ^ (owners.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    return keys


def output_sets(
    fp: Fingerprinter, texts: Sequence[str], requests: Sequence[str | None]
) -> OutputSets:
    """Fingerprint sets of many outputs at once."""
    code: tuple[list[str], list[int]] = ([], [])
    prose: tuple[list[str], list[int]] = ([], [])
    for i, text in enumerate(texts):
        for segment, channel in split_segments(text):
            target = code if channel == CODE else prose
            target[0].append(segment)
            target[1].append(i)
    parts = [_pairs_of(fp, *code, CODE), _pairs_of(fp, *prose, TEXT)]
    hashes = np.concatenate([p[0] for p in parts])
    owners = np.concatenate([p[1] for p in parts])
    hashes, owners = _unique_pairs(hashes, owners)
    asked = [(r, i) for i, r in enumerate(requests) if r]
    if asked and hashes.shape[0]:
        req_texts = [r for r, _ in asked]
        req_owner = [i for _, i in asked]
        quoted = [_pairs_of(fp, req_texts, req_owner, ch) for ch in (CODE, TEXT)]
        q_keys = np.concatenate([_pair_keys(*q) for q in quoted])
        fresh = ~np.isin(_pair_keys(hashes, owners), q_keys)
        hashes, owners = hashes[fresh], owners[fresh]
    return OutputSets(hashes, owners)


def background_hashes(fp: Fingerprinter, texts: Sequence[str]) -> np.ndarray:
    """Every fingerprint of a background corpus, in both channels: never evidence."""
    if not texts:
        return np.empty(0, np.uint64)
    batch = EncodedBatch(texts)
    return np.unique(np.concatenate([fp.code(batch).hash, fp.text(batch).hash]))


def privacy_form(new: NewOutput, config: FingerprintConfig) -> NewOutput:
    """The output as fingerprints-only mode records it: its fingerprint set, no text.

    The request is fingerprinted (to subtract what was quoted) and then dropped too.
    """
    if new.text is None:
        return new
    sets = output_sets(Fingerprinter(config), [new.text], [new.request])
    return replace(
        new,
        text=None,
        request=None,
        text_hash=new.content_hash(),
        fingerprints=np.sort(sets.hash).tobytes(),
        fp_config=config.id,
    )
