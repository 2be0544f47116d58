"""The hash chain: canonical encoding of a record, linking, and verification. Pure: no database.

Each record stores ``prev_hash`` (the previous record's ``chain_hash``, or :data:`GENESIS`) and
``chain_hash = sha256(prev_hash + canonical JSON of its fields)``. The canonical JSON is an object
with the :data:`FIELDS` as keys, sorted, no whitespace, UTF-8; ``created_at`` is written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. Large values enter by digest: the text through
``content_hash`` (its sha256, checked against the text on verify), ``request`` and
``fingerprints`` as the sha256 of their UTF-8 / bytes; the :data:`EXTENSION_FIELDS` only when
set. Hashing a digest instead of 2 KB of JSON
keeps recording fast and commits the same content. Hashes carry their algorithm
(``sha256:<hex>``). A head is ``"<seq>:<chain_hash>"``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from distillguard.model import content_hash

ALGORITHM = "sha256"
PREFIX = ALGORITHM + ":"
GENESIS = PREFIX + hashlib.sha256(b"distillguard ledger genesis v1").hexdigest()
FIELDS = (
    "seq", "id", "idempotency_key", "vendor", "model", "tool", "actor", "team", "session",
    "purpose", "created_at", "content_hash", "request", "source_id", "message_id",
    "fingerprints", "fp_config",
)  # fmt: skip
#: Fields added later (the gateway's usage): a record includes each one only when it is set,
#: so the records written before they existed hash as they always did, and setting or clearing
#: one afterwards still changes the hash.
EXTENSION_FIELDS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "price_version", "upstream", "key_id",
)  # fmt: skip
MAX_PROBLEMS = 1000
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
        if value is not None:
            doc[name] = value
    doc["created_at"] = iso_utc(doc["created_at"])
    if doc["request"] is not None:
        doc["request"] = _digest(doc["request"].encode("utf-8"))
    if doc["fingerprints"] is not None:
        doc["fingerprints"] = _digest(doc["fingerprints"])
    text = _ENCODER.encode(doc)
    return text.encode("utf-8")


def _digest(data: bytes) -> str:
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
    """The outcome of recomputing the chain: ``ok`` when no problem was found."""

    ok: bool
    records: int
    head: str
    problems: tuple[str, ...]


@dataclass
class Verifier:
    """Checks records fed in ascending ``seq`` order; :meth:`report` gives the verdict."""

    expect_head: tuple[int, str] | None = None
    records: int = 0
    last_seq: int = 0
    prev: str = GENESIS
    seen_expected: bool = False
    problems: list[str] = field(default_factory=list)
    dropped: int = 0

    def feed(self, row: Record) -> None:
        where = f"seq {row['seq']} ({row['id']})"
        self._check_position(row, where)
        try:
            self._check_hash(row, where)
            self._check_derived(row, where)
        except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong type
            self._problem(f"{where}: record altered (a field cannot be read: {exc})")
        self._check_expected(row, where)
        self.records += 1
        self.last_seq = row["seq"]
        self.prev = row["chain_hash"]

    def report(self) -> VerifyReport:
        self._finish_expected()
        problems = list(self.problems)
        if self.dropped:
            problems.append(f"... and {self.dropped} more problems")
        head = format_head(self.last_seq, self.prev)
        return VerifyReport(not problems, self.records, head, tuple(problems))

    def unreadable(self, error: Exception) -> None:
        """The records after the last one fed could not be read at all."""
        self._problem(f"records after seq {self.last_seq} cannot be read ({error}): altered")

    def _problem(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
        else:
            self.dropped += 1

    def _check_position(self, row: Record, where: str) -> None:
        expected, seq = self.last_seq + 1, row["seq"]
        if seq > expected:
            missing = f"seq {expected}" + (f"..{seq - 1}" if seq - 1 > expected else "")
            self._problem(f"{missing} missing: removed before {where}")
        elif row["prev_hash"] != self.prev:
            self._problem(
                f"{where}: prev_hash does not link to seq {self.last_seq} "
                "(a record was removed, inserted or reordered)"
            )

    def _check_hash(self, row: Record, where: str) -> None:
        stored = row["chain_hash"]
        if not stored.startswith(PREFIX):
            self._problem(f"{where}: unknown chain hash algorithm in {stored[:16]!r}")
        elif link(row["prev_hash"], row) != stored:
            self._problem(f"{where}: record altered (its fields do not match its chain hash)")

    def _check_derived(self, row: Record, where: str) -> None:
        if output_id(row["idempotency_key"]) != row["id"]:
            self._problem(f"{where}: id does not derive from its idempotency key")
        text = row["text"]
        if text is not None and content_hash(text) != row["content_hash"]:
            self._problem(f"{where}: text altered (it does not match its content hash)")

    def _check_expected(self, row: Record, where: str) -> None:
        if self.expect_head is None or row["seq"] != self.expect_head[0]:
            return
        self.seen_expected = True
        if row["chain_hash"] != self.expect_head[1]:
            self._problem(f"{where}: chain hash differs from the expected head")

    def _finish_expected(self) -> None:
        if self.expect_head is None or self.seen_expected:
            return
        self.seen_expected = True
        seq, chain_hash = self.expect_head
        if seq == 0:
            if chain_hash != GENESIS:
                self._problem("the expected head 0:... is not this ledger's genesis")
        elif seq > self.last_seq:
            self._problem(
                f"expected head seq {seq} but the ledger ends at seq {self.last_seq}: "
                f"the tail was cut off (seq {self.last_seq + 1}..{seq} missing)"
            )
        else:
            self._problem(f"seq {seq} of the expected head is missing")
