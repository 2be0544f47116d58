"""Settings: the one place that reads environment variables and the config file.

Lookup order for the config file: ``--config``, then ``DISTILLGUARD_CONFIG``, then
``./distillguard.toml``, then ``distillguard.toml`` at the git root. No file is fine: the defaults
treat every vendor as external.

The file is strict: an unknown table or key is an error, and so is a value of the wrong kind.
Every problem of every section is told at once, one line each, as ``FILE: [section] key:
problem (did you mean X?)``. A vendor name that nothing configured knows is a warning
(:func:`vendor_warnings`), not an error: outputs of any vendor may be recorded.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from distillguard.errors import ConfigError

EXTERNAL = "external"
INTERNAL = "internal"
VENDOR_CLASSES = (EXTERNAL, INTERNAL)
CONFIG_NAME = "distillguard.toml"
#: The tables a config file may hold.
TABLES = ("vendors", "upstreams", "teams", "rules", "ledger", "gateway", "scan")
VENDOR_KEYS = ("class",)
LEDGER_KEYS = ("fingerprints_only",)


#: The wire formats an upstream may speak.
APIS = ("anthropic", "openai", "gemini", "bedrock", "vertex")
#: The APIs whose requests the gateway signs itself (cloud credentials, no vendor key).
SIGNING_APIS = ("bedrock", "vertex")
UPSTREAM_KEYS = (
    "api", "base_url", "key_env", "vendor", "pass_through",
    "region", "project", "credentials_file", "aws_profile",
)  # fmt: skip
#: The upstream keys that only some APIs take.
API_KEYS = MappingProxyType(
    {"region": SIGNING_APIS, "project": ("vertex",), "credentials_file": ("vertex",),
     "aws_profile": ("bedrock",)}
)  # fmt: skip
#: Paths the gateway serves itself, which no upstream may be named after.
RESERVED_NAMES = ("healthz", "metrics", "ui")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_API_VERSION = re.compile(r"/v\d+(?:alpha|beta)?\d*\Z")


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
    Upstream(
        "gemini", "gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", "google"
    ),
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
GATEWAY_KEYS = ("prices", *GATEWAY_LIMITS, "pass_through")
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
    """Everything distillguard reads from its environment, resolved once.

    ``db_origin`` says how ``db_url`` was chosen (for errors about the ledger)."""

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
    db_origin: str = ""

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
    """Resolve settings from the environment and the config file (if any); one ConfigError
    names every problem of the file."""
    env = os.environ if env is None else env
    home = Path(env.get("DISTILLGUARD_HOME") or ".distillguard")
    path = find_config(config, env)
    data = read_config(path) if path else {}
    sections: dict[str, Callable[[Mapping[str, Any], Problems], Any]] = {
        "vendor_classes": _vendor_classes,
        "upstreams": partial(_upstreams, config_path=path),
        "rules": _rules,
        "fingerprints_only": _fingerprints_only,
        "teams": _teams,
        "prices_path": partial(_prices_path, config_path=path),
        "gateway_limits": _gateway_limits,
        "scan_limits": _scan_limits,
    }
    problems = Problems()
    _unknown_tables(data, problems)
    parsed = {name: parse(data, problems) for name, parse in sections.items()}
    problems.raise_if_any(path)
    db_url = env.get("DISTILLGUARD_DB") or default_db_url(home)
    return Settings(
        home=home, db_url=db_url, config_path=path, db_origin=_db_origin(env, home), **parsed
    )


def _db_origin(env: Mapping[str, str], home: Path) -> str:
    if env.get("DISTILLGUARD_DB"):
        return "the ledger is the one DISTILLGUARD_DB names"
    how = "set" if env.get("DISTILLGUARD_HOME") else "not set, so the default"
    return (
        f"the ledger is DISTILLGUARD_HOME/ledger.db, DISTILLGUARD_HOME being {str(home)!r} "
        f"({how}); DISTILLGUARD_DB (a database URL) or DISTILLGUARD_HOME choose another"
    )


class Problems:
    """What is wrong with a config file, one line each: ``[section] key: problem``."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, section: str, key: str | None, problem: str) -> None:
        self.found.append(f"{section} {key}: {problem}" if key else f"{section}: {problem}")

    def unknown_keys(self, section: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
        known = tuple(known)
        for key in table:
            if key not in known:
                self.add(section, key, f"unknown key{_guess(key, known)}")

    def raise_if_any(self, path: Path | None) -> None:
        if self.found:
            prefix = f"{path}: " if path else ""
            raise ConfigError("\n".join(prefix + line for line in self.found))


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


# --- the file's shape ---------------------------------------------------------------------


def _unknown_tables(data: Mapping[str, Any], problems: Problems) -> None:
    """Top-level names that are no table of a config file, and tables of the wrong kind."""
    for key, value in data.items():
        if key not in TABLES:
            what = "table" if isinstance(value, Mapping | list) else "top-level key"
            problems.add(_header(key, value), None, f"unknown {what}{_table_guess(key, value)}")
        elif key == "rules" and not isinstance(value, list):
            problems.add("[rules]", None, "must be an array of tables: write [[rules]]")
        elif key != "rules" and not isinstance(value, Mapping):
            problems.add(_header(key, value), None, f"must be a table: write [{key}]")


def _table_guess(key: str, value: Any) -> str:
    """The table ``key`` was likely meant to be, written as it would be; else all of them."""
    close = difflib.get_close_matches(key, TABLES, n=1)
    if close:
        return f" (did you mean {_header(close[0], value)}?)"
    tables = ", ".join(_header(t, [{}] if t == "rules" else {}) for t in TABLES)
    return f" (the file holds {tables})"


def _header(key: str, value: Any) -> str:
    """How a top-level ``key`` holding ``value`` is written: ``[[key]]``, ``[key.sub]``, ``[key]``
    (a name without brackets for a plain value)."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return f"[[{key}]]"
    if isinstance(value, Mapping):
        subs = [name for name, v in value.items() if isinstance(v, Mapping)]
        return f"[{key}.{subs[0]}]" if subs and len(subs) == len(value) else f"[{key}]"
    return key


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` when it is a table (:func:`_unknown_tables` tells when it is not)."""
    value = data.get(key, {})
    return value if isinstance(value, Mapping) else {}


def _subtables(
    data: Mapping[str, Any], key: str, problems: Problems
) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """``(name, section, table)`` for each ``[key.NAME]``; a plain value is a problem."""
    for name, spec in _table(data, key).items():
        section = f"[{key}.{name}]"
        if isinstance(spec, Mapping):
            yield name, section, spec
        else:
            problems.add(section, None, f"must be a table ([{key}] {name} = ... is not one)")


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _number_problem(value: Any, *, zero_ok: bool) -> str | None:
    """Why ``value`` is not a finite number above 0 (or at least 0), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if value < 0 or (value == 0 and not zero_ok):
        return f"{value!r}: must be {'0 or more' if zero_ok else 'more than 0'}"
    return None


def _guess(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(known)})"


# --- [vendors] ----------------------------------------------------------------------------


def _vendor_classes(data: Mapping[str, Any], problems: Problems) -> dict[str, str]:
    classes: dict[str, str] = {}
    for name, section, spec in _subtables(data, "vendors", problems):
        problems.unknown_keys(section, spec, VENDOR_KEYS)
        if not _NAME.match(name):
            problems.add(section, None, f"{name!r} is not a vendor name ({_NAME_RULE})")
        cls = spec.get("class", EXTERNAL)
        if cls not in VENDOR_CLASSES:
            problems.add(section, "class", f"{cls!r}: must be one of {', '.join(VENDOR_CLASSES)}")
        else:
            classes[name] = cls
    return classes


_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"


# --- [upstreams] --------------------------------------------------------------------------


def _upstreams(
    data: Mapping[str, Any], problems: Problems, config_path: Path | None
) -> dict[str, Upstream]:
    if "upstreams" not in data:
        return {upstream.name: upstream for upstream in DEFAULT_UPSTREAMS}
    upstreams: dict[str, Upstream] = {}
    for name, section, spec in _subtables(data, "upstreams", problems):
        before = len(problems.found)
        problems.unknown_keys(section, spec, UPSTREAM_KEYS)
        _check_upstream(name, section, spec, problems)
        credentials = _credentials_file(section, spec, problems, config_path)
        if len(problems.found) == before:
            upstreams[name] = _upstream(name, spec, credentials)
    return upstreams


def _upstream(name: str, spec: Mapping[str, Any], credentials: str | None) -> Upstream:
    api = spec["api"]
    return Upstream(
        name=name,
        api=api,
        base_url=(spec.get("base_url") or _cloud_url(api, spec["region"])).rstrip("/"),
        key_env=spec.get("key_env"),
        vendor=spec.get("vendor", name),
        pass_through=tuple(spec.get("pass_through", ())),
        region=spec.get("region"),
        project=spec.get("project"),
        credentials_file=credentials,
        aws_profile=spec.get("aws_profile"),
    )


def _cloud_url(api: str, region: str) -> str:
    """A signing API's service origin in ``region`` (when ``base_url`` is not given)."""
    if api == "bedrock":
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    return (
        "https://aiplatform.googleapis.com"
        if region == "global"
        else (f"https://{region}-aiplatform.googleapis.com")
    )


def _check_upstream(name: str, section: str, spec: Mapping[str, Any], problems: Problems) -> None:
    if not _NAME.match(name) or name in RESERVED_NAMES:
        problems.add(section, None, f"{name!r} cannot be served at /{name}/: a name has "
                     f"{_NAME_RULE}, and is none of {', '.join(RESERVED_NAMES)}")  # fmt: skip
    api = spec.get("api")
    if api not in APIS:
        problems.add(section, "api", f"{api!r}: must be one of {', '.join(APIS)}")
        api = ""
    url = spec.get("base_url")
    why = _url_problem(url, api) if url is not None or api not in SIGNING_APIS else None
    if why is not None:
        problems.add(section, "base_url", why)
    _check_upstream_strings(spec, section, problems)
    if api:
        _check_api_keys(api, spec, section, problems)


def _url_problem(url: Any, api: str) -> str | None:
    """Why ``url`` is not an upstream's ``base_url`` for ``api``, or None."""
    if not isinstance(url, str):
        return "must be an http(s) URL, the vendor's origin, e.g. https://api.openai.com"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or any(c.isspace() for c in url):
        return f"{url!r} is not an http(s) URL"
    try:
        port_ok = bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:
        port_ok = False
    if not port_ok:
        return f"{url!r} has no host (or a bad port)"
    if "?" in url or "#" in url:
        return f"{url!r} has a query or fragment: /NAME/<rest>?q goes to base_url/<rest>?q"
    path = parts.path.rstrip("/")
    if path and api in SIGNING_APIS:
        return f"{url!r} has a path: {api} requests are signed for the service origin"
    if version := _API_VERSION.search(path):
        return (
            f"{url!r} ends in the API version: give the origin (clients send "
            f"/NAME{version.group()}/..., which goes to base_url{version.group()}/...)"
        )
    return None


def _check_upstream_strings(spec: Mapping[str, Any], section: str, problems: Problems) -> None:
    key_env = spec.get("key_env")
    if key_env is not None and not (isinstance(key_env, str) and _ENV_VAR.match(key_env)):
        problems.add(section, "key_env", f"{key_env!r}: must name an environment variable")
    vendor = spec.get("vendor")
    if vendor is not None and not (isinstance(vendor, str) and _NAME.match(vendor)):
        problems.add(section, "vendor", f"{vendor!r} is not a vendor name ({_NAME_RULE})")
    globs = spec.get("pass_through", [])
    if not _str_list(globs) or not all(g.startswith("/") for g in globs):
        problems.add(section, "pass_through", 'must be a list of path globs, e.g. ["/v1/files"]')
    for key in ("project", "aws_profile", "credentials_file"):
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            problems.add(section, key, f"{spec[key]!r}: must be a non-empty string")
    region = spec.get("region")
    if region is not None and not (isinstance(region, str) and _REGION.match(region)):
        problems.add(section, "region", f"{region!r} is not a region, e.g. us-east-1, us-east5")


def _check_api_keys(api: str, spec: Mapping[str, Any], section: str, problems: Problems) -> None:
    """The keys that depend on the API: what a signing API needs, and what it must not have."""
    for key, apis in API_KEYS.items():
        if key in spec and api not in apis:
            problems.add(section, key, f"only for api = {' or '.join(apis)}, not {api}")
    if api not in SIGNING_APIS:
        return
    if "key_env" in spec:
        problems.add(section, "key_env", f"{api} upstreams sign their requests with cloud "
                     "credentials, not a vendor key: remove key_env")  # fmt: skip
    needed = ("region", "project") if api == "vertex" else ("region",)
    for key in needed:
        if key not in spec:
            problems.add(section, key, f"missing: api = {api} needs {' and '.join(needed)}")


def _credentials_file(
    section: str, spec: Mapping[str, Any], problems: Problems, config_path: Path | None
) -> str | None:
    """``credentials_file``, relative to the config file; it must exist."""
    value = spec.get("credentials_file")
    if not isinstance(value, str) or not value.strip():
        return None  # missing, or told by _check_upstream_strings
    path = _relative_to(value, config_path)
    if not path.is_file():
        problems.add(section, "credentials_file", f"no file at {path}")
    return str(path)


def _relative_to(value: str, config_path: Path | None) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return path


# --- [[rules]] ----------------------------------------------------------------------------


def rules_from(data: Mapping[str, Any]) -> tuple[Rule, ...]:
    """The ``[[rules]]`` of a parsed config; one ConfigError explains every bad rule."""
    problems = Problems()
    rules = _rules(data, problems)
    problems.raise_if_any(None)
    return rules


def _rules(data: Mapping[str, Any], problems: Problems) -> tuple[Rule, ...]:
    raw = data.get("rules", [])
    rules: list[Rule] = []
    for i, spec in enumerate(raw if isinstance(raw, list) else []):
        section = f"[[rules]] #{i + 1}"
        if isinstance(spec, Mapping) and isinstance(spec.get("id"), str):
            section += f" ({spec['id']})"
        before = len(problems.found)
        _check_rule(spec, section, problems)
        if len(problems.found) == before:
            rules.append(_rule(spec))
    ids = [r.id for r in rules]
    for twice in sorted({x for x in ids if ids.count(x) > 1}):
        problems.add("[[rules]]", "id", f"{twice!r} is used twice")
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


def _check_rule(spec: Any, section: str, problems: Problems) -> None:
    """Everything wrong with one rule table."""
    if not isinstance(spec, Mapping):
        problems.add(section, None, "must be a table")
        return
    if not isinstance(spec.get("id"), str) or not spec.get("id"):
        problems.add(section, "id", "missing: a rule needs an id (a non-empty string)")
    problems.unknown_keys(section, spec, RULE_KEYS)
    if "paths" in spec and not _str_list(spec["paths"]):
        problems.add(section, "paths", 'must be a list of gitignore-style globs, e.g. ["tests/**"]')
    if not spec.get("paths") and not spec.get("datasets"):
        problems.add(section, None, "needs paths (where in git) or datasets (which dataset "
                     "purposes), or both")  # fmt: skip
    if (why := _deny_problem(spec.get("deny", EXTERNAL))) is not None:
        problems.add(section, "deny", why)
    require = spec.get("require", [])
    require = [require] if isinstance(require, str) else require
    if not isinstance(require, list) or any(r not in REQUIREMENTS for r in require):
        problems.add(section, "require", f"{spec.get('require')!r}: must be one of "
                     f"{', '.join(REQUIREMENTS)}")  # fmt: skip
    datasets = spec.get("datasets", [])
    if not _str_list(datasets) or any(d not in DATASET_PURPOSES for d in datasets):
        problems.add(section, "datasets", f"{datasets!r}: must be a list of purposes from "
                     f"{', '.join(DATASET_PURPOSES)}")  # fmt: skip
    if not isinstance(spec.get("description", ""), str):
        problems.add(section, "description", "must be a string")


def _deny_problem(deny: Any) -> str | None:
    if isinstance(deny, str):
        if deny in VENDOR_CLASSES:
            return None
        return (
            f"{deny!r}: a class must be one of {', '.join(VENDOR_CLASSES)}; "
            f'name vendors as a list, e.g. deny = ["{deny}"]'
        )
    if not _str_list(deny) or not deny:
        return "must be a class (external, internal) or a non-empty list of vendors"
    bad = [v for v in deny if not _NAME.match(v)]
    return f"{', '.join(map(repr, bad))}: not a vendor name ({_NAME_RULE})" if bad else None


# --- [ledger], [teams], [gateway], [scan] -------------------------------------------------


def _fingerprints_only(data: Mapping[str, Any], problems: Problems) -> bool:
    table = _table(data, "ledger")
    problems.unknown_keys("[ledger]", table, LEDGER_KEYS)
    value = table.get("fingerprints_only", False)
    if not isinstance(value, bool):
        problems.add("[ledger]", "fingerprints_only", f"{value!r}: must be true or false")
        return False
    return value


def _teams(data: Mapping[str, Any], problems: Problems) -> dict[str, Team]:
    """The ``[teams.NAME]`` tables."""
    teams: dict[str, Team] = {}
    for name, section, spec in _subtables(data, "teams", problems):
        before = len(problems.found)
        _check_team(spec, section, problems)
        if len(problems.found) == before:
            teams[name] = Team(
                name=name,
                vendors=_opt_tuple(spec.get("vendors")),
                models=_opt_tuple(spec.get("models")),
                budget_usd=_opt_float(spec.get("budget_usd")),
                key_budget_usd=_opt_float(spec.get("key_budget_usd")),
                period=spec.get("period", "month"),
                unpriced=spec.get("unpriced", "estimate"),
            )
    return teams


def _check_team(spec: Mapping[str, Any], section: str, problems: Problems) -> None:
    problems.unknown_keys(section, spec, TEAM_KEYS)
    if "vendors" in spec and not _str_list(spec["vendors"]):
        problems.add(section, "vendors", "must be a list of vendor names")
    if "models" in spec and not _str_list(spec["models"]):
        problems.add(section, "models", 'must be a list of model globs, e.g. ["claude-*"]')
    for key in ("budget_usd", "key_budget_usd"):
        if key in spec and (why := _number_problem(spec[key], zero_ok=True)) is not None:
            problems.add(section, key, f"{why} (a budget in US dollars)")
    if spec.get("period", "month") not in BUDGET_PERIODS:
        problems.add(section, "period", f"{spec['period']!r}: must be one of "
                     f"{', '.join(BUDGET_PERIODS)}")  # fmt: skip
    if spec.get("unpriced", "estimate") not in UNPRICED:
        problems.add(section, "unpriced", f"{spec['unpriced']!r}: must be one of "
                     f"{', '.join(UNPRICED)}")  # fmt: skip


def _opt_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _prices_path(
    data: Mapping[str, Any], problems: Problems, config_path: Path | None
) -> Path | None:
    """``[gateway] prices``: a price table file, relative to the config file. Its content is
    read where prices are used (``config validate``, ``serve``)."""
    value = _table(data, "gateway").get("prices")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add("[gateway]", "prices", "must be the path of a price table (TOML)")
        return None
    path = _relative_to(value, config_path)
    if not path.is_file():
        problems.add("[gateway]", "prices", f"no price table at {path}")
    return path


def _gateway_limits(data: Mapping[str, Any], problems: Problems) -> GatewayLimits:
    """``[gateway]`` limits: positive numbers, and ``pass_through`` a list of path globs."""
    table = _table(data, "gateway")
    problems.unknown_keys("[gateway]", table, GATEWAY_KEYS)
    values: dict[str, float] = {}
    for key in GATEWAY_LIMITS:
        if key not in table:
            continue
        if (why := _number_problem(table[key], zero_ok=False)) is not None:
            problems.add("[gateway]", key, why)
        else:
            values[key] = float(table[key])
    globs = table.get("pass_through", [])
    if not _str_list(globs) or not all(g.startswith("/") for g in globs):
        problems.add("[gateway]", "pass_through",
                     'must be a list of path globs, e.g. ["/v1/embeddings"]')  # fmt: skip
        globs = []
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


def _scan_limits(data: Mapping[str, Any], problems: Problems) -> ScanLimits:
    """``[scan]``: a size for ``max_document_bytes``, a whole number >= 1 for ``max_ratio``."""
    table = _table(data, "scan")
    problems.unknown_keys("[scan]", table, SCAN_KEYS)
    values: dict[str, int] = {}
    if "max_document_bytes" in table:
        try:
            values["max_document_bytes"] = parse_size(table["max_document_bytes"])
        except ValueError as exc:
            problems.add("[scan]", "max_document_bytes", str(exc))
    ratio = table.get("max_ratio", DEFAULT_MAX_RATIO)
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        problems.add("[scan]", "max_ratio", f"{ratio!r}: must be a whole number, 1 or more")
    else:
        values["max_ratio"] = ratio
    return ScanLimits(**values)


# --- warnings -----------------------------------------------------------------------------


def vendor_warnings(settings: Settings, known: Iterable[str] = ()) -> list[str]:
    """The vendor names in ``[teams.*] vendors`` and ``[[rules]] deny`` that no upstream,
    ``[vendors]`` table or ``known`` name (the price tables' vendors): each likely a typo.
    Warnings, not errors: any vendor's output may be recorded by hand or by a hook."""
    names = {*known, *settings.vendor_classes}
    names |= {up.vendor for up in settings.upstreams.values()}
    known_names = tuple(sorted(names))
    used = [(f"[teams.{t.name}]", "vendors", t.vendors or ()) for t in settings.teams.values()]
    used += [
        (f"[[rules]] #{i + 1} ({rule.id})", "deny", rule.deny)
        for i, rule in enumerate(settings.rules)
        if not isinstance(rule.deny, str)
    ]
    prefix = f"{settings.config_path}: " if settings.config_path else ""
    return [
        f"{prefix}{section} {key}: {vendor!r} is a vendor that no upstream, price table or "
        f"[vendors] table names{_guess(vendor, known_names) if known_names else ''}"
        for section, key, vendors in used
        for vendor in vendors
        if vendor not in names
    ]
