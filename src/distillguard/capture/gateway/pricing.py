"""The price table (versioned TOML, package data or a file of the user's) and costs.

``[VENDOR."MODEL"]`` tables give USD per million tokens: ``input``, ``output``, ``cache_read``,
``cache_write`` and ``cache_write_1h`` (missing cache prices: the input price). A model with a
date suffix or ``-latest`` uses its base name's prices; ``[VENDOR."*"]`` prices every other
model of a vendor (for an internal model billed by the hour: zeros). Unknown: no cost (None).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from distillguard.capture.gateway.parsers import Tokens
from distillguard.errors import ConfigError

PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    cache_write_1h: float

    def cost(self, tokens: Tokens) -> float:
        hour = min(tokens.cache_write_1h or 0, tokens.cache_write or 0)
        total = (
            (tokens.input or 0) * self.input
            + (tokens.output or 0) * self.output
            + (tokens.cache_read or 0) * self.cache_read
            + ((tokens.cache_write or 0) - hour) * self.cache_write
            + hour * self.cache_write_1h
        )
        return round(total / 1_000_000, 10)


@dataclass(frozen=True)
class PriceTable:
    version: str
    prices: Mapping[str, Mapping[str, Price]]

    def price(self, vendor: str, model: str) -> Price | None:
        models = self.prices.get(vendor, {})
        base = _SUFFIX.sub("", model)
        return models.get(model) or models.get(base) or models.get("*")

    def cost(self, vendor: str, model: str, tokens: Tokens) -> float | None:
        """The cost of an answer, or None when the model has no price or no usage came."""
        price = self.price(vendor, model)
        if price is None or (tokens.input is None and tokens.output is None):
            return None
        return price.cost(tokens)


def load(path: Path | None = None) -> PriceTable:
    """The table at ``path``, or the one shipped with distillguard."""
    where = str(path) if path else "the packaged price table"
    try:
        if path is None:
            data = tomllib.loads(
                resources.files("distillguard.capture.gateway").joinpath("prices.toml").read_text()
            )
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the price table: {exc}") from exc
    return parse(data, where)


def parse(data: Mapping[str, Any], where: str) -> PriceTable:
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ConfigError(f"{where}: a price table needs a version (a string)")
    prices: dict[str, dict[str, Price]] = {}
    for vendor, models in data.items():
        if vendor == "version":
            continue
        if not isinstance(models, Mapping):
            raise ConfigError(f"{where}: [{vendor}] must hold a table per model")
        prices[vendor] = {
            m: _price(spec, f"{where}: [{vendor}.{m!r}]") for m, spec in models.items()
        }
    return PriceTable(version, prices)


def _price(spec: Any, where: str) -> Price:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a table of prices")
    unknown = set(spec) - set(PRICE_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, float] = {}
    for name in ("input", "output"):
        values[name] = _number(spec.get(name), f"{where} {name}")
    for name in ("cache_read", "cache_write"):
        values[name] = _number(spec.get(name, values["input"]), f"{where} {name}")
    values["cache_write_1h"] = _number(
        spec.get("cache_write_1h", values["cache_write"]), f"{where} cache_write_1h"
    )
    return Price(**values)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} must be a non-negative number (USD per million tokens)")
    return float(value)
