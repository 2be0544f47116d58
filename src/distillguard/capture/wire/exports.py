"""The vendors' own usage exports, read into totals per model for ``usage reconcile``.

- ``anthropic``: the Usage & Cost Admin API's messages usage report
  (``GET /v1/organizations/usage_report/messages?group_by[]=model``): ``{"data": [{"starting_at",
  "ending_at", "results": [{"model", "uncached_input_tokens", "cache_read_input_tokens",
  "cache_creation": {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"},
  "output_tokens", ...}]}], "has_more", "next_page"}``. Input is the whole prompt: uncached +
  cache read + cache creation.
- ``openai``: the usage API's completions buckets
  (``GET /v1/organization/usage/completions?group_by=model``): ``{"object": "page", "data":
  [{"object": "bucket", "start_time", "end_time", "results": [{"model", "input_tokens",
  "input_cached_tokens", "output_tokens", "num_model_requests", ...}]}]}``; ``input_tokens``
  already holds the cached ones.
- ``google``: rows of the Cloud Billing export (the BigQuery table, as JSON, JSON lines or CSV
  with the columns ``service.description``, ``sku.description``, ``usage_start_time``,
  ``usage_end_time``, ``cost``, ``currency``): cost per model, the model read from the SKU's
  description ("Gemini 2.5 Pro ..." is ``gemini-2.5-pro``); rows of other SKUs are skipped.

A file may hold one page or a JSON list of pages. A report not grouped by model is refused:
totals over all models cannot be held against a model's. Models are keyed by their base name
(no date suffix), as the price table prices them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distillguard.capture.wire.prices import base_name
from distillguard.errors import InputError

VENDORS = ("anthropic", "openai", "google")
_GEMINI = re.compile(r"\bgemini[- ]\d+(?:\.\d+)?(?:[- ](?:pro|flash|lite|ultra|nano))*", re.I)


@dataclass
class Totals:
    """One model's usage: input (the whole prompt) and output tokens, cost; None: not given."""

    input: int | None = None
    output: int | None = None
    cost_usd: float | None = None

    def add(self, name: str, value: float) -> None:
        setattr(self, name, (getattr(self, name) or 0) + value)


@dataclass
class Export:
    """A vendor's usage export: its period (``start`` inclusive, ``end`` exclusive) and its
    totals per model."""

    vendor: str
    start: datetime | None = None
    end: datetime | None = None
    models: dict[str, Totals] = field(default_factory=dict)

    def totals(self, model: str) -> Totals:
        return self.models.setdefault(base_name(model), Totals())

    def cover(self, start: datetime, end: datetime) -> None:
        self.start = start if self.start is None else min(self.start, start)
        self.end = end if self.end is None else max(self.end, end)


def read(path: Path, vendor: str) -> Export:
    """The export in ``path``, in ``vendor``'s format; InputError when it is not one."""
    if vendor not in READERS:
        raise InputError(f"--vendor must be one of {', '.join(VENDORS)}, not {vendor!r}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the usage export {path}: {exc.strerror or exc}") from exc
    export = Export(vendor)
    try:
        READERS[vendor](raw, export)
    except KeyError as exc:
        raise InputError(f"{path} is not {vendor}'s usage export: no field {exc}") from None
    except (TypeError, ValueError, AttributeError, csv.Error) as exc:
        raise InputError(f"{path} is not {vendor}'s usage export: {exc}") from None
    if export.start is None or export.end is None:
        raise InputError(f"{path}: the usage export covers no period (no buckets or rows)")
    return export


def _pages(raw: bytes) -> Iterator[Mapping[str, Any]]:
    data = orjson.loads(raw)
    for page in data if isinstance(data, list) else [data]:
        if not isinstance(page, Mapping) or not isinstance(page.get("data"), list):
            raise ValueError('expected a page {"data": [buckets...]} or a list of pages')
        yield page


def _model(result: Mapping[str, Any], grouping: str) -> str:
    model = result.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError(f"a result has no model: export the report grouped by model ({grouping})")
    return model


def _count(result: Mapping[str, Any], name: str) -> int:
    value = result.get(name) or 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} is not a token count: {value!r}")
    return value


def _anthropic(raw: bytes, export: Export) -> None:
    for page in _pages(raw):
        for bucket in page["data"]:
            export.cover(_when(bucket["starting_at"]), _when(bucket["ending_at"]))
            for result in bucket["results"]:
                totals = export.totals(_model(result, "group_by[]=model"))
                totals.add("input", _anthropic_input(result))
                totals.add("output", _count(result, "output_tokens"))


def _anthropic_input(result: Mapping[str, Any]) -> int:
    creation = result.get("cache_creation") or {}
    written = sum(_count(creation, f"ephemeral_{ttl}_input_tokens") for ttl in ("5m", "1h"))
    written += sum(_count(result, f"cache_creation_{ttl}_input_tokens") for ttl in ("5m", "1h"))
    read = _count(result, "cache_read_input_tokens")
    return _count(result, "uncached_input_tokens") + read + written


def _openai(raw: bytes, export: Export) -> None:
    for page in _pages(raw):
        for bucket in page["data"]:
            export.cover(_epoch(bucket["start_time"]), _epoch(bucket["end_time"]))
            for result in bucket["results"]:
                totals = export.totals(_model(result, "group_by=model"))
                totals.add("input", _count(result, "input_tokens"))
                totals.add("output", _count(result, "output_tokens"))


def _google(raw: bytes, export: Export) -> None:
    for row in _billing_rows(raw):
        start, end = _when(row["usage_start_time"]), _when(row["usage_end_time"])
        export.cover(start, end)
        found = _GEMINI.search(str(row.get("sku.description") or ""))
        if found is None:
            continue  # another service's or another SKU's cost
        currency = row.get("currency") or "USD"
        if currency != "USD":
            raise ValueError(f"costs in {currency}: export the billing data in USD")
        model = re.sub(r"[- ]+", "-", found.group(0).lower())
        export.totals(model).add("cost_usd", float(row["cost"]))


def _billing_rows(raw: bytes) -> Iterator[Mapping[str, Any]]:
    """Billing export rows with flat keys (``sku.description``), from JSON, JSON lines or CSV."""
    text = raw.decode("utf-8-sig")
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        lines = [text] if start == "[" else [line for line in text.splitlines() if line.strip()]
        for line in lines:
            data = orjson.loads(line)
            for row in data if isinstance(data, list) else [data]:
                yield _flat(row)
        return
    for row in csv.DictReader(io.StringIO(text)):
        yield {key.strip().replace("_description", ".description"): v for key, v in row.items()}


def _flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _when(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace(" UTC", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _epoch(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a bucket time is not a Unix time: {value!r}")
    return datetime.fromtimestamp(value, UTC)


READERS: dict[str, Callable[[bytes, Export], None]] = {
    "anthropic": _anthropic,
    "openai": _openai,
    "google": _google,
}
