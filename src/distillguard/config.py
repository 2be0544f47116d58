"""Settings: the one place that reads environment variables and the config file.

Lookup order for the config file: ``--config``, then ``DISTILLGUARD_CONFIG``, then
``./distillguard.toml``, then ``distillguard.toml`` at the git root. No file is fine: the defaults
treat every vendor as external.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from distillguard.errors import ConfigError

EXTERNAL = "external"
INTERNAL = "internal"
VENDOR_CLASSES = (EXTERNAL, INTERNAL)
CONFIG_NAME = "distillguard.toml"


#: The wire formats an upstream may speak.
APIS = ("anthropic", "openai", "gemini", "bedrock", "vertex")


@dataclass(frozen=True)
class Upstream:
    """``[upstreams.NAME]``. ``pass_through``: path globs beyond model calls and metadata
    endpoints that this upstream forwards unrecorded. ``bedrock`` and ``vertex`` sign their
    requests themselves: ``region`` (both), ``project`` and ``credentials_file`` (a Google
    service-account JSON; default ``GOOGLE_APPLICATION_CREDENTIALS``) for Vertex,
    ``aws_profile`` for Bedrock (default: the AWS SDK's credential chain)."""

    name: str
    api: str
    base_url: str
    key_env: str | None
    vendor: str
    pass_through: tuple[str, ...] = ()
    region: str | None = None
    project: str | None = None
    credentials_file: str | None = None
    aws_profile: str | None = None


#: The upstreams served when the config file has no ``[upstreams]`` table.
DEFAULT_UPSTREAMS = (
    Upstream(
        "anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "anthropic"
    ),
    Upstream("openai", "openai", "https://api.openai.com", "OPENAI_API_KEY", "openai"),
)
BUDGET_PERIODS = ("day", "week", "month", "total")
TEAM_KEYS = ("vendors", "models", "budget_usd", "key_budget_usd", "period", "unpriced")
#: What a budget does with a call whose cost is unknown: counts an estimate, or refuses it.
UNPRICED = ("estimate", "refuse")


@dataclass(frozen=True)
class Team:
    """What a team's gateway keys may use: vendors and model globs (None: any), and budgets
    in USD per ``period`` for the whole team and for each of its keys (None: no limit).
    ``unpriced``: what a budgeted team's call whose cost cannot be known (a model without a
    price, a stream without usage) does: ``estimate`` (counts its estimate) or ``refuse``."""

    name: str
    vendors: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    budget_usd: float | None = None
    key_budget_usd: float | None = None
    period: str = "month"
    unpriced: str = "estimate"


@dataclass(frozen=True)
class GatewayLimits:
    """``[gateway]``: what a client may send and how long the gateway waits for it.

    ``max_body_mb``: a request body's size limit (MiB); ``header_timeout_s`` and
    ``body_timeout_s``: how long a client may take to send its headers and its body;
    ``shutdown_grace_s``: how long answers still streaming may run on after SIGTERM before they
    are cut (what came so far is recorded); ``pass_through``: path globs, beyond model calls
    and metadata endpoints, that the gateway forwards without recording.
    """

    max_body_mb: float = 32.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    shutdown_grace_s: float = 30.0
    pass_through: tuple[str, ...] = ()

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


GATEWAY_LIMITS = ("max_body_mb", "header_timeout_s", "body_timeout_s", "shutdown_grace_s")
DEFAULT_MAX_DOCUMENT_BYTES = 64 << 20
DEFAULT_MAX_RATIO = 1000
SCAN_KEYS = ("max_document_bytes", "max_ratio")
SIZE_UNITS = MappingProxyType(
    {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
     "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
)  # fmt: skip
_SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ScanLimits:
    """``[scan]``: what one input may cost a scan. ``max_document_bytes``: the largest document
    read (a file, a line, a row, an archive member; bytes after decompression); ``max_ratio``:
    how many times its size a compressed input may inflate to (past one full-size document)."""

    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_ratio: int = DEFAULT_MAX_RATIO


REQUIREMENTS = ("review",)
DATASET_PURPOSES = ("training", "evaluation", "test-tasks", "code-analysis", "fine-tuning")
RULE_KEYS = ("id", "paths", "deny", "require", "datasets", "description")


@dataclass(frozen=True)
class Rule:
    """Where outside output may not go: ``paths`` in git, ``datasets`` at dataset admission.

    ``deny`` is a vendor class or a list of vendor names. With ``require`` (e.g. ``review``) the
    denied output is allowed once the requirement is met (a reviewer other than the author).
    """

    id: str
    paths: tuple[str, ...]
    deny: str | tuple[str, ...]
    require: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything distillguard reads from its environment, resolved once."""

    home: Path
    db_url: str
    config_path: Path | None = None
    vendor_classes: Mapping[str, str] = field(default_factory=dict)
    upstreams: Mapping[str, Upstream] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    fingerprints_only: bool = False
    teams: Mapping[str, Team] = field(default_factory=dict)
    prices_path: Path | None = None
    gateway_limits: GatewayLimits = field(default_factory=GatewayLimits)
    scan_limits: ScanLimits = field(default_factory=ScanLimits)

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    def vendor_class(self, vendor: str) -> str:
        """``internal`` only when the configuration says so; every other vendor is external."""
        return self.vendor_classes.get(vendor, EXTERNAL)

    def is_external(self, vendor: str) -> bool:
        return self.vendor_class(vendor) == EXTERNAL


def default_db_url(home: Path) -> str:
    return f"sqlite:///{(home / 'ledger.db').resolve()}"


def load_settings(
    config: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings from the environment and the config file (if any)."""
    env = os.environ if env is None else env
    home = Path(env.get("DISTILLGUARD_HOME", ".distillguard"))
    path = find_config(config, env)
    data = read_config(path) if path else {}
    sections: dict[str, Callable[[Mapping[str, Any]], Any]] = {
        "vendor_classes": _vendor_classes,
        "upstreams": _upstreams,
        "rules": _rules,
        "fingerprints_only": _fingerprints_only,
        "teams": _teams,
        "prices_path": partial(_prices_path, config_path=path),
        "gateway_limits": _gateway_limits,
        "scan_limits": _scan_limits,
    }
    parsed: dict[str, Any] = {}
    errors: list[str] = []
    for name, parse in sections.items():  # every section, so that every error is told at once
        try:
            parsed[name] = parse(data)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    db_url = env.get("DISTILLGUARD_DB") or default_db_url(home)
    return Settings(home=home, db_url=db_url, config_path=path, **parsed)


def find_config(explicit: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    if env.get("DISTILLGUARD_CONFIG"):
        path = Path(env["DISTILLGUARD_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"DISTILLGUARD_CONFIG names a missing file: {path}")
        return path
    local = Path(CONFIG_NAME)
    if local.is_file():
        return local
    root = _git_root()
    if root and (root / CONFIG_NAME).is_file():
        return root / CONFIG_NAME
    return None


def _git_root() -> Path | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # tomllib decodes the whole file before parsing
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 (byte {exc.start})") from exc
    except RecursionError as exc:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _vendor_classes(data: Mapping[str, Any]) -> dict[str, str]:
    classes: dict[str, str] = {}
    for name, spec in _table(data, "vendors").items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"[vendors.{name}] must be a table")
        cls = spec.get("class", EXTERNAL)
        if cls not in VENDOR_CLASSES:
            raise ConfigError(
                f"[vendors.{name}] class = {cls!r}: must be one of {', '.join(VENDOR_CLASSES)}"
            )
        classes[name] = cls
    return classes


def _upstreams(data: Mapping[str, Any]) -> dict[str, Upstream]:
    if "upstreams" not in data:
        return {upstream.name: upstream for upstream in DEFAULT_UPSTREAMS}
    upstreams: dict[str, Upstream] = {}
    for name, spec in _table(data, "upstreams").items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"[upstreams.{name}] must be a table")
        api = spec.get("api")
        if api not in ("anthropic", "openai"):
            raise ConfigError(f"[upstreams.{name}] api = {api!r}: must be 'anthropic' or 'openai'")
        base_url = spec.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"[upstreams.{name}] base_url must be an http(s) URL")
        upstreams[name] = Upstream(
            name=name,
            api=api,
            base_url=base_url.rstrip("/"),
            key_env=spec.get("key_env"),
            vendor=spec.get("vendor", name),
        )
    return upstreams


def rules_from(data: Mapping[str, Any]) -> tuple[Rule, ...]:
    """The ``[[rules]]`` of a parsed config; one ConfigError explains every bad rule."""
    return _rules(data)


def _rules(data: Mapping[str, Any]) -> tuple[Rule, ...]:
    raw = data.get("rules", [])
    if not isinstance(raw, list):
        raise ConfigError("[[rules]] must be an array of tables")
    rules: list[Rule] = []
    problems: list[str] = []
    for i, spec in enumerate(raw):
        errors = _rule_errors(spec)
        where = f"[[rules]] #{i + 1}"
        if isinstance(spec, Mapping) and isinstance(spec.get("id"), str):
            where += f" ({spec['id']})"
        problems.extend(f"{where}: {e}" for e in errors)
        if not errors:
            rules.append(_rule(spec))
    ids = [r.id for r in rules]
    problems.extend(
        f"[[rules]]: id {d!r} is used twice" for d in sorted({x for x in ids if ids.count(x) > 1})
    )
    if problems:
        raise ConfigError("\n".join(problems))
    return tuple(rules)


def _rule(spec: Mapping[str, Any]) -> Rule:
    deny = spec.get("deny", EXTERNAL)
    require = spec.get("require", [])
    return Rule(
        id=spec["id"],
        paths=tuple(spec.get("paths", [])),
        deny=tuple(deny) if isinstance(deny, list) else deny,
        require=(require,) if isinstance(require, str) else tuple(require),
        datasets=tuple(spec.get("datasets", [])),
        description=spec.get("description", ""),
    )


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _rule_errors(spec: Any) -> list[str]:
    """Everything wrong with one rule table."""
    if not isinstance(spec, Mapping):
        return ["must be a table"]
    errors = []
    if not isinstance(spec.get("id"), str) or not spec.get("id"):
        errors.append("needs an id (a non-empty string)")
    unknown = sorted(set(spec) - set(RULE_KEYS))
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)}; a rule has {', '.join(RULE_KEYS)}")
    if "paths" in spec and not _str_list(spec["paths"]):
        errors.append('paths must be a list of gitignore-style globs, e.g. ["tests/**"]')
    if not spec.get("paths") and not spec.get("datasets"):
        errors.append("needs paths (where in git) or datasets (which dataset purposes), or both")
    deny = spec.get("deny", EXTERNAL)
    if isinstance(deny, str):
        if deny not in VENDOR_CLASSES:
            errors.append(
                f"deny = {deny!r}: a class must be one of {', '.join(VENDOR_CLASSES)}; "
                f'name vendors as a list, e.g. deny = ["{deny}"]'
            )
    elif not _str_list(deny) or not deny:
        errors.append("deny must be a class (external, internal) or a non-empty list of vendors")
    require = spec.get("require", [])
    require = [require] if isinstance(require, str) else require
    if not isinstance(require, list) or any(r not in REQUIREMENTS for r in require):
        errors.append(
            f"require = {spec.get('require')!r}: must be one of {', '.join(REQUIREMENTS)}"
        )
    datasets = spec.get("datasets", [])
    if not _str_list(datasets) or any(d not in DATASET_PURPOSES for d in datasets):
        errors.append(
            f"datasets = {datasets!r}: must be a list of purposes "
            f"from {', '.join(DATASET_PURPOSES)}"
        )
    if not isinstance(spec.get("description", ""), str):
        errors.append("description must be a string")
    return errors


def _fingerprints_only(data: Mapping[str, Any]) -> bool:
    value = _table(data, "ledger").get("fingerprints_only", False)
    if not isinstance(value, bool):
        raise ConfigError("[ledger] fingerprints_only must be true or false")
    return value


def _teams(data: Mapping[str, Any]) -> dict[str, Team]:
    """The ``[teams.NAME]`` tables; one ConfigError explains every bad one."""
    teams: dict[str, Team] = {}
    errors: list[str] = []
    for name, spec in _table(data, "teams").items():
        problems = _team_errors(spec)
        errors.extend(f"teams.{name}: {problem}" for problem in problems)
        if not problems:
            teams[name] = Team(
                name=name,
                vendors=_opt_tuple(spec.get("vendors")),
                models=_opt_tuple(spec.get("models")),
                budget_usd=_opt_float(spec.get("budget_usd")),
                key_budget_usd=_opt_float(spec.get("key_budget_usd")),
                period=spec.get("period", "month"),
                unpriced=spec.get("unpriced", "estimate"),
            )
    if errors:
        raise ConfigError("invalid team configuration:\n  " + "\n  ".join(errors))
    return teams


def _team_errors(spec: Any) -> list[str]:
    if not isinstance(spec, Mapping):
        return ["must be a table"]
    errors = [f"unknown key {key!r} (expected {', '.join(TEAM_KEYS)})" for key in spec
              if key not in TEAM_KEYS]  # fmt: skip
    for key in ("vendors", "models"):
        if key in spec and not _str_list(spec[key]):
            errors.append(f"{key} must be a list of strings")
    for key in ("budget_usd", "key_budget_usd"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value < 0):  # fmt: skip
            errors.append(f"{key} = {value!r}: must be a non-negative number of US dollars")
    if spec.get("period", "month") not in BUDGET_PERIODS:
        errors.append(f"period = {spec['period']!r}: must be one of {', '.join(BUDGET_PERIODS)}")
    if spec.get("unpriced", "estimate") not in UNPRICED:
        errors.append(f"unpriced = {spec['unpriced']!r}: must be one of {', '.join(UNPRICED)}")
    return errors


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _prices_path(data: Mapping[str, Any], config_path: Path | None) -> Path | None:
    """``[gateway] prices``: a price table file, relative to the config file."""
    value = _table(data, "gateway").get("prices")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError("gateway.prices must be the path of a price table (TOML)")
    path = Path(value)
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    if not path.is_file():
        raise ConfigError(f"gateway.prices: no price table at {path}")
    return path


def _gateway_limits(data: Mapping[str, Any]) -> GatewayLimits:
    """``[gateway]`` limits: positive numbers, and ``pass_through`` a list of path globs."""
    table = _table(data, "gateway")
    errors = []
    for key in GATEWAY_LIMITS:
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or value <= 0):  # fmt: skip
            errors.append(f"gateway.{key} = {value!r}: must be a positive number")
    globs = table.get("pass_through", [])
    if not _str_list(globs) or not all(g.startswith("/") for g in globs):
        errors.append('gateway.pass_through must be a list of path globs, e.g. ["/v1/embeddings"]')
    if errors:
        raise ConfigError("\n".join(errors))
    values = {key: float(table[key]) for key in GATEWAY_LIMITS if key in table}
    return GatewayLimits(**values, pass_through=tuple(globs))


def parse_size(value: object) -> int:
    """A size in bytes from an integer or a string with a unit (``"64 MiB"``, ``"1GB"``);
    ``ValueError`` when it is neither or not positive."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (
        isinstance(value, str)
        and (m := _SIZE.fullmatch(value))
        and (m.group(2).lower() in SIZE_UNITS)
    ):
        number = int(m.group(1)) * SIZE_UNITS[m.group(2).lower()]
    else:
        raise ValueError(f"{value!r} is not a size (bytes, or a number with B, KB, MiB, GiB...)")
    if number <= 0:
        raise ValueError(f"{value!r}: must be more than 0 bytes")
    return number


def _scan_limits(data: Mapping[str, Any]) -> ScanLimits:
    """``[scan]``: a size for ``max_document_bytes``, a whole number >= 1 for ``max_ratio``."""
    table = _table(data, "scan")
    errors = [f"scan.{key}: unknown key{_guess(key, SCAN_KEYS)}" for key in table
              if key not in SCAN_KEYS]  # fmt: skip
    values: dict[str, int] = {}
    if "max_document_bytes" in table:
        try:
            values["max_document_bytes"] = parse_size(table["max_document_bytes"])
        except ValueError as exc:
            errors.append(f"scan.max_document_bytes = {exc}")
    ratio = table.get("max_ratio", DEFAULT_MAX_RATIO)
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        errors.append(f"scan.max_ratio = {ratio!r}: must be a whole number, 1 or more")
    else:
        values["max_ratio"] = ratio
    if errors:
        raise ConfigError("\n".join(errors))
    return ScanLimits(**values)


def _guess(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
