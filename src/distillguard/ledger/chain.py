"""The hash chain: canonical encoding of a record, linking, and verification. Pure: no database.

Each record stores ``prev_hash`` (the previous record's ``chain_hash``, or :data:`GENESIS`) and
``chain_hash = sha256(prev_hash + canonical JSON of its fields)``. The canonical JSON is an object
with the :data:`FIELDS` as keys, sorted, no whitespace, UTF-8; ``created_at`` is written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. Large values enter by digest: the text through
``content_hash`` (its sha256, checked against the text on verify), ``request`` and
``fingerprints`` as the sha256 of their UTF-8 / bytes; the :data:`EXTENSION_FIELDS` only when
set (a flag only when true). Hashing a digest instead of 2 KB of JSON keeps recording fast and
commits the same content. Hashes carry their algorithm (``sha256:<hex>``). A head is
``"<seq>:<chain_hash>"``.

A record keeps its text, or (fingerprints-only) its fingerprints and the settings that made
them: a NULL text without those means the text was removed (:func:`text_removed`).
:class:`ChainVerifier` checks any chain of this shape; the journal
(:mod:`distillguard.ledger.journal`) is the other one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from distillguard.model import content_hash

ALGORITHM = "sha256"
PREFIX = ALGORITHM + ":"
GENESIS = PREFIX + hashlib.sha256(b"distillguard ledger genesis v1").hexdigest()
FIELDS = (
    "seq", "id", "idempotency_key", "vendor", "model", "tool", "actor", "team", "session",
    "purpose", "created_at", "content_hash", "request", "source_id", "message_id",
    "fingerprints", "fp_config",
)  # fmt: skip
#: Fields added later (the gateway's usage, then the flags ``usage_estimated`` and
#: ``unparsed``): a record includes each one only when it is set (not None; a flag: true), so
#: the records written before they existed hash as they always did, and setting or clearing one
#: afterwards still changes the hash.
EXTENSION_FIELDS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "price_version", "upstream", "key_id",
    "usage_estimated", "unparsed",
)  # fmt: skip
MAX_PROBLEMS = 1000
ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: A record: any mapping from field names (a dict, a SQLAlchemy RowMapping).
Record = Mapping[Any, Any]


def output_id(idempotency_key: str) -> str:
    """The deterministic id of the output with this idempotency key."""
    return "out_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


def iso_utc(value: datetime) -> str:
    """``value`` (aware) as a fixed-width UTC timestamp with microseconds."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def canonical(record: Record) -> bytes:
    """The canonical JSON bytes of a record's :data:`FIELDS`."""
    doc = {name: record[name] for name in FIELDS}
    for name in EXTENSION_FIELDS:
        value = record.get(name)
        if value is not None and value is not False:  # a flag enters only when true
            doc[name] = value
    doc["created_at"] = iso_utc(doc["created_at"])
    if doc["request"] is not None:
        doc["request"] = digest(doc["request"].encode("utf-8"))
    if doc["fingerprints"] is not None:
        doc["fingerprints"] = digest(doc["fingerprints"])
    text = ENCODER.encode(doc)
    return text.encode("utf-8")


def digest(data: bytes) -> str:
    """The sha256 of ``data``, prefixed with its algorithm."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def link(prev_hash: str, record: Record) -> str:
    """The chain hash of ``record`` following ``prev_hash``."""
    digest = hashlib.sha256(prev_hash.encode("utf-8") + canonical(record))
    return PREFIX + digest.hexdigest()


def format_head(seq: int, chain_hash: str) -> str:
    return f"{seq}:{chain_hash}"


def parse_head(head: str) -> tuple[int, str]:
    """Split ``"<seq>:sha256:<hex>"``; ValueError when it is not one."""
    seq, sep, chain_hash = head.strip().partition(":")
    hex_part = chain_hash.removeprefix(PREFIX)
    valid_hex = len(hex_part) == 64 and all(c in "0123456789abcdef" for c in hex_part)
    if not (sep and seq.isdigit() and chain_hash.startswith(PREFIX) and valid_hex):
        raise ValueError(f"not a ledger head (expected '<seq>:sha256:<64 hex>'): {head!r}")
    return int(seq), chain_hash


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying a ledger: ``ok`` when no problem was found.

    ``records``: outputs checked; ``journal``: journal entries checked (see
    :mod:`distillguard.ledger.journal`); ``head``: the head recomputed from them.
    """

    ok: bool
    records: int
    head: str
    problems: tuple[str, ...]
    journal: int = 0


@dataclass(frozen=True)
class Unreadable:
    """A stored row holding a value its column type cannot decode: its key (``seq`` or
    ``id``), its values as the database renders them in text, and why it could not be read."""

    key: Any
    values: Mapping[str, Any]
    error: str


@dataclass
class Problems:
    """What a verification found, at most :data:`MAX_PROBLEMS` kept (the others counted)."""

    kept: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, message: str) -> None:
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(message)
        else:
            self.dropped += 1

    def lines(self) -> list[str]:
        more = [f"... and {self.dropped} more problems"] if self.dropped else []
        return self.kept + more


def text_removed(record: Record) -> bool:
    """Whether a record has lost its text: NULL, yet not a fingerprints-only record (those
    always keep their fingerprints and the settings that made them)."""
    kept = record["fingerprints"] is not None and record["fp_config"] is not None
    return record["text"] is None and not kept


@dataclass
class ChainVerifier:
    """Checks the records of one hash chain fed in ascending ``seq`` order; :meth:`finish`
    gives the problems, :attr:`tail` the recomputed head."""

    GENESIS: ClassVar[str] = GENESIS
    NAME: ClassVar[str] = "ledger"
    LABEL: ClassVar[str] = "seq"

    expect_head: tuple[int, str] | None = None
    records: int = 0
    last_seq: int = 0
    prev: str = ""
    seen_expected: bool = False
    problems: Problems = field(default_factory=Problems)

    def __post_init__(self) -> None:
        self.prev = self.prev or self.GENESIS

    def where(self, row: Record) -> str:
        raise NotImplementedError

    def link(self, prev_hash: str, row: Record) -> str:
        raise NotImplementedError

    def check_derived(self, row: Record, where: str) -> None:
        """Checks of values derived from others (none by default)."""

    @property
    def tail(self) -> tuple[int, str]:
        return self.last_seq, self.prev

    def feed(self, row: Record | Unreadable) -> None:
        values = {**row.values, "seq": row.key} if isinstance(row, Unreadable) else row
        where = self.where(values)
        self._check_position(values, where)
        if isinstance(row, Unreadable):
            self.problems.add(
                f"{where}: record altered (a stored value cannot be read: {row.error})"
            )
        else:
            try:
                self._check_hash(row, where)
                self.check_derived(row, where)
            except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong type
                self.problems.add(f"{where}: record altered (a field cannot be read: {exc})")
        self._check_expected(values, where)
        self.records += 1
        self.last_seq = values["seq"]
        self.prev = values["chain_hash"]

    def finish(self) -> list[str]:
        """The problems found, once every record was fed."""
        self._finish_expected()
        return self.problems.lines()

    def _check_position(self, row: Record, where: str) -> None:
        expected, seq, label = self.last_seq + 1, row["seq"], self.LABEL
        if seq > expected:
            missing = f"{label} {expected}" + (f"..{seq - 1}" if seq - 1 > expected else "")
            self.problems.add(f"{missing} missing: removed before {where}")
        elif row["prev_hash"] != self.prev:
            self.problems.add(
                f"{where}: prev_hash does not link to {label} {self.last_seq} "
                "(a record was removed, inserted or reordered)"
            )

    def _check_hash(self, row: Record, where: str) -> None:
        stored = row["chain_hash"]
        if not stored.startswith(PREFIX):
            self.problems.add(f"{where}: unknown chain hash algorithm in {stored[:16]!r}")
        elif self.link(row["prev_hash"], row) != stored:
            self.problems.add(f"{where}: record altered (its fields do not match its chain hash)")

    def _check_expected(self, row: Record, where: str) -> None:
        if self.expect_head is None or row["seq"] != self.expect_head[0]:
            return
        self.seen_expected = True
        if row["chain_hash"] != self.expect_head[1]:
            self.problems.add(f"{where}: chain hash differs from the expected head")

    def _finish_expected(self) -> None:
        if self.expect_head is None or self.seen_expected:
            return
        self.seen_expected = True
        (seq, chain_hash), label = self.expect_head, self.LABEL
        if seq == 0:
            if chain_hash != self.GENESIS:
                self.problems.add(f"the expected head 0:... is not this {self.NAME}'s genesis")
        elif seq > self.last_seq:
            self.problems.add(
                f"expected head {label} {seq} but the {self.NAME} ends at {label} "
                f"{self.last_seq}: the tail was cut off "
                f"({label} {self.last_seq + 1}..{seq} missing)"
            )
        else:
            self.problems.add(f"{label} {seq} of the expected head is missing")


class Verifier(ChainVerifier):
    """Checks the outputs' chain, and what derives from each output's fields (its id, the
    hash of its text)."""

    def where(self, row: Record) -> str:
        return f"seq {row['seq']} ({row['id']})"

    def link(self, prev_hash: str, row: Record) -> str:
        return link(prev_hash, row)

    def check_derived(self, row: Record, where: str) -> None:
        if output_id(row["idempotency_key"]) != row["id"]:
            self.problems.add(f"{where}: id does not derive from its idempotency key")
        text = row["text"]
        if text_removed(row):
            self.problems.add(
                f"{where}: text removed (it is NULL, yet the record keeps no fingerprints "
                "and settings, as a fingerprints-only record does)"
            )
        elif text is not None and content_hash(text) != row["content_hash"]:
            self.problems.add(f"{where}: text altered (it does not match its content hash)")
