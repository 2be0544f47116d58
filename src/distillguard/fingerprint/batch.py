"""Fingerprint many texts at once and map fingerprint spans back to character offsets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distillguard.fingerprint import kernels
from distillguard.fingerprint.config import CODE, TEXT, FingerprintConfig
from distillguard.fingerprint.normalize import fold_table, keyword_table


@dataclass(frozen=True)
class Prints:
    """Fingerprints of a batch: parallel arrays, byte spans relative to each document's start."""

    hash: np.ndarray
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    channel: int

    def __len__(self) -> int:
        return int(self.hash.shape[0])


def _pack(chunks: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    starts = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    buf = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    return buf, starts


class EncodedBatch:
    """The texts of a batch as the one UTF-8 buffer the kernels read, with offset maps back."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        self.buf, self.starts = _pack(encoded)
        self._ascii = [len(b) == len(t) for b, t in zip(encoded, texts, strict=True)]
        self._char_tables: dict[int, np.ndarray] = {}

    def char_offsets(self, doc: int, offsets: np.ndarray) -> np.ndarray:
        """Byte offsets into document ``doc``, as ``str`` indices of its text."""
        if self._ascii[doc]:
            return offsets
        table = self._char_tables.get(doc)
        if table is None:  # made once per document: a document is asked once per match, twice
            raw = self.buf[self.starts[doc] : self.starts[doc + 1]]
            table = self._char_tables[doc] = _byte_to_char(raw)
        result: np.ndarray = table[offsets]
        return result


def _byte_to_char(raw: np.ndarray) -> np.ndarray:
    """For every byte offset 0..len, the index of the character starting there (or after)."""
    lead = (raw & 0xC0) != 0x80
    table = np.zeros(raw.shape[0] + 1, dtype=np.int64)
    np.cumsum(lead, out=table[1:])
    return table


class _Scratch:
    """Buffers reused from batch to batch: fresh pages cost more than the kernels' work."""

    def __init__(self) -> None:
        self._tok: tuple[np.ndarray, ...] = ()
        self._out: tuple[np.ndarray, ...] = ()

    def tokens(self, size: int) -> tuple[np.ndarray, ...]:
        if not self._tok or self._tok[0].shape[0] < size:
            size = int(size * 1.25) + 64
            u64 = [np.empty(size, np.uint64) for _ in range(2)]
            i64 = [np.empty(size, np.int64) for _ in range(5)]
            self._tok = (*u64, *i64)
        return self._tok

    def results(self, size: int) -> tuple[np.ndarray, ...]:
        if not self._out or self._out[0].shape[0] < size:
            size = int(size * 1.25) + 64
            self._out = (np.empty(size, np.uint64), *(np.empty(size, np.int64) for _ in range(3)))
        return self._out


def _longest(starts: np.ndarray) -> int:
    return int(np.diff(starts).max()) + 1 if starts.shape[0] > 1 else 1


class Fingerprinter:
    """Turns text into winnowed, channel-tagged fingerprints with their spans."""

    def __init__(self, config: FingerprintConfig | None = None) -> None:
        self.config = config or FingerprintConfig()
        self._keywords = keyword_table()
        self._fold = fold_table()
        self._seed = np.uint64(self.config.seed)
        self._scratch = _Scratch()

    def _collect(self, count: int, channel: int) -> Prints:
        h, d, s, e = (a[:count].copy() for a in self._scratch.results(0))
        return Prints(h, d, s, e, channel=channel)

    def code(self, batch: EncodedBatch) -> Prints:
        count = self._code(batch, self._scratch.results(batch.buf.shape[0] + 1))
        return self._collect(count, CODE)

    def text(self, batch: EncodedBatch) -> Prints:
        count = self._text(batch, self._scratch.results(batch.buf.shape[0] + 1))
        return self._collect(count, TEXT)

    def both(self, batch: EncodedBatch, *, prose: bool = True) -> tuple[np.ndarray, ...]:
        """Code and (with ``prose``) text fingerprints in one set of arrays ``(hash, doc, start,
        end)``; the channel is the hash's low bit. No copies: the arrays are views of this
        Fingerprinter's buffers, valid until its next call."""
        out = self._scratch.results(2 * (batch.buf.shape[0] + 1))
        count = self._code(batch, out)
        if prose:
            count += self._text(batch, tuple(a[count:] for a in out))
        return tuple(a[:count] for a in out)

    def _code(self, batch: EncodedBatch, out: tuple[np.ndarray, ...]) -> int:
        cfg = self.config
        return int(
            kernels.fingerprint_code(
                batch.buf,
                batch.starts,
                self._keywords,
                cfg.code_k,
                cfg.code_w,
                self._seed,
                np.uint64(CODE),
                cfg.literal_strings,
                cfg.v6,
                self._scratch.tokens(_longest(batch.starts)),
                out,
            )
        )

    def _text(self, batch: EncodedBatch, out: tuple[np.ndarray, ...]) -> int:
        cfg = self.config
        return int(
            kernels.fingerprint_text(
                batch.buf,
                batch.starts,
                *self._fold,
                cfg.text_k,
                cfg.text_w,
                self._seed,
                np.uint64(TEXT),
                self._scratch.tokens(_longest(batch.starts)),
                out,
            )
        )

    def of_texts(self, texts: Sequence[str], channel: int) -> Prints:
        batch = EncodedBatch(texts)
        return self.code(batch) if channel == CODE else self.text(batch)
