"""The price table (versioned TOML, package data or a file of the user's) and costs.

``[VENDOR."MODEL"]`` tables give USD per million tokens: ``input``, ``output``, ``cache_read``,
``cache_write`` and ``cache_write_1h`` (missing cache prices: the input price), and optionally
``source``: where the prices come from and when they were read (the packaged table has one for
every model). A model with a date suffix or ``-latest`` uses its base name's prices;
``[VENDOR."*"]`` prices every other model of a vendor (for an internal model billed by the hour:
zeros). Unknown: no cost (None); :func:`unpriced` lists the models of a ledger that have none.

Budgets need more than the recorded cost. Before a call is sent, :meth:`PriceTable.estimate`
bounds what it may cost (reserved at admission); after it, :meth:`PriceTable.charge` is what it
counts against a budget, a model without a price charged at the vendor's dearest prices, so that
no call is free because its price is unknown.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillguard.errors import ConfigError
from distillguard.model import Usage

if TYPE_CHECKING:
    from distillguard.ledger.accounts import ModelSeen

PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")
#: How the clouds spell a vendor's model: Vertex ``claude-sonnet-4-5@20250929``, Bedrock
#: ``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` (a cross-region prefix, the vendor, a version).
_CLOUD_AT = re.compile(r"@[\w.-]+$")
_CLOUD_PREFIX = re.compile(r"^(?:(?:us|eu|apac|au|jp|us-gov|global)\.)?[a-z0-9-]+\.(?=claude-)")
_CLOUD_VERSION = re.compile(r"-v\d+(?::\d+)?$")
#: The request fields that cap a call's output (thinking and reasoning included), per wire format.
OUTPUT_CAPS = ("max_tokens", "max_output_tokens", "max_completion_tokens")
#: Gemini's cap: ``generationConfig.maxOutputTokens`` (thinking included).
GEMINI_CONFIG, GEMINI_CAP = "generationConfig", "maxOutputTokens"
#: A model table's fields besides its prices.
NOTE_FIELDS = ("source",)
#: The output assumed for a call that sets no cap, or a larger one: the most any model gives.
MAX_OUTPUT = 128_000


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    cache_write_1h: float
    source: str | None = field(default=None, compare=False)

    def cost(self, tokens: Usage) -> float:
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
        return models.get(model) or models.get(base_name(model)) or models.get("*")

    def cost(self, vendor: str, model: str, tokens: Usage) -> float | None:
        """The cost of an answer, or None when the model has no price or no usage came."""
        price = self.price(vendor, model)
        if price is None or (tokens.input is None and tokens.output is None):
            return None
        return price.cost(tokens)

    def dearest(self, vendor: str) -> Price | None:
        """The highest price of each kind among ``vendor``'s models (among all models when it
        has none): what a model without a price is charged against a budget."""
        prices = list(self.prices.get(vendor, {}).values())
        prices = prices or [price for models in self.prices.values() for price in models.values()]
        if not prices:
            return None
        return Price(*(max(getattr(price, name) for price in prices) for name in PRICE_FIELDS))

    def charge(self, vendor: str, model: str, tokens: Usage) -> float | None:
        """What an answer counts against a budget: its cost, at :meth:`dearest` when the model
        has no price; None when no usage came (the caller charges its estimate)."""
        price = self.price(vendor, model) or self.dearest(vendor)
        if price is None or (tokens.input is None and tokens.output is None):
            return None
        return price.cost(tokens)

    def estimate(
        self, vendor: str, model: str | None, path: str, body: Mapping[str, Any], size: int
    ) -> Estimate:
        """The most a model call may cost: each of the ``size`` bytes of its request ``body`` an
        input token (none is shorter) at the dearest input price (a cache write), plus its
        output cap (:data:`MAX_OUTPUT` without one) at the output price."""
        price = self.price(vendor, model) if model else None
        unknown = None if price else f"model {model} of {vendor} has no price in the price table"
        unknown = unknown or unreported_usage(path, body)
        used = price or self.dearest(vendor)
        if used is None:  # an empty table prices nothing
            return Estimate(0.0, unknown)
        dearest_input = max(used.input, used.cache_write, used.cache_write_1h)
        total = size * dearest_input + output_cap(body) * used.output
        return Estimate(round(total / 1_000_000, 10), unknown)


@dataclass(frozen=True)
class Estimate:
    """What a call may cost at most (USD), known before it is sent; ``unknown``: why its real
    cost cannot be known (a model without a price: the vendor's dearest prices stood in; a
    stream that reports no usage), or None."""

    usd: float
    unknown: str | None = None


def base_name(model: str) -> str:
    """A model's name without a date suffix or ``-latest`` (the name it is priced under), and
    without the clouds' spelling (Vertex ``@date``; Bedrock's region prefix, vendor and
    ``-v1:0``), so a model bought through a cloud is priced as the vendor's own."""
    model = _CLOUD_AT.sub("", model)
    model = _CLOUD_VERSION.sub("", _CLOUD_PREFIX.sub("", model))
    return _SUFFIX.sub("", model)


def output_cap(body: Mapping[str, Any]) -> int:
    """The output tokens a request allows, at most :data:`MAX_OUTPUT`: its ``max_tokens``
    (Anthropic, Chat Completions), ``max_output_tokens`` (Responses), ``max_completion_tokens``
    (Chat Completions) or ``generationConfig.maxOutputTokens`` (Gemini)."""
    config = body.get(GEMINI_CONFIG)
    gemini = config.get(GEMINI_CAP) if isinstance(config, Mapping) else None
    for value in (*(body.get(name) for name in OUTPUT_CAPS), gemini):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return min(value, MAX_OUTPUT)
    return MAX_OUTPUT


def unpriced(table: PriceTable, seen: Iterable[ModelSeen]) -> list[ModelSeen]:
    """The (vendor, model) pairs of ``seen`` that ``table`` has no price for."""
    return [pair for pair in seen if table.price(pair.vendor, pair.model) is None]


def unreported_usage(path: str, body: Mapping[str, Any]) -> str | None:
    """Why a call's answer will carry no usage, if it will not: a Chat Completions stream
    reports it only when the client asks for it."""
    if not path.split("?")[0].rstrip("/").endswith("/chat/completions"):
        return None
    options = body.get("stream_options")
    if body.get("stream") is not True or (
        isinstance(options, Mapping) and options.get("include_usage") is True
    ):
        return None
    return "a Chat Completions stream without stream_options.include_usage reports no usage"


def load(path: Path | None = None) -> PriceTable:
    """The table at ``path``, or the one shipped with distillguard."""
    where = str(path) if path else "the packaged price table"
    try:
        if path is None:
            data = tomllib.loads(
                resources.files("distillguard.capture.wire").joinpath("prices.toml").read_text()
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
    unknown = set(spec) - set(PRICE_FIELDS) - set(NOTE_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    source = spec.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise ConfigError(f"{where} source must be a non-empty string (where the prices come from)")
    values: dict[str, float] = {}
    for name in ("input", "output"):
        values[name] = _number(spec.get(name), f"{where} {name}")
    for name in ("cache_read", "cache_write"):
        values[name] = _number(spec.get(name, values["input"]), f"{where} {name}")
    values["cache_write_1h"] = _number(
        spec.get("cache_write_1h", values["cache_write"]), f"{where} cache_write_1h"
    )
    return Price(**values, source=source)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} must be a non-negative number (USD per million tokens)")
    return float(value)
