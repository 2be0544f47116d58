"""Settings: the one place that reads environment variables and the config file.

Lookup order for the config file: ``--config``, then ``DISTILLGUARD_CONFIG``, then
``./distillguard.toml``, then ``distillguard.toml`` at the git root. No file is fine: the defaults
treat every vendor as external.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillguard.errors import ConfigError

EXTERNAL = "external"
INTERNAL = "internal"
VENDOR_CLASSES = (EXTERNAL, INTERNAL)
CONFIG_NAME = "distillguard.toml"


@dataclass(frozen=True)
class Upstream:
    name: str
    api: str
    base_url: str
    key_env: str | None
    vendor: str


@dataclass(frozen=True)
class Rule:
    id: str
    paths: tuple[str, ...]
    deny: str | tuple[str, ...]


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
    return Settings(
        home=home,
        db_url=env.get("DISTILLGUARD_DB") or default_db_url(home),
        config_path=path,
        vendor_classes=_vendor_classes(data),
        upstreams=_upstreams(data),
        rules=_rules(data),
        fingerprints_only=_fingerprints_only(data),
    )


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


def _rules(data: Mapping[str, Any]) -> tuple[Rule, ...]:
    raw = data.get("rules", [])
    if not isinstance(raw, list):
        raise ConfigError("[[rules]] must be an array of tables")
    rules = []
    for i, spec in enumerate(raw):
        where = f"[[rules]] #{i + 1}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
            raise ConfigError(f"{where}: needs an id")
        paths = spec.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{where} ({spec['id']}): paths must be a list of globs")
        deny = spec.get("deny", EXTERNAL)
        if isinstance(deny, list):
            deny = tuple(str(v) for v in deny)
        elif not isinstance(deny, str):
            raise ConfigError(f"{where} ({spec['id']}): deny must be a class or a list of vendors")
        rules.append(Rule(id=spec["id"], paths=tuple(paths), deny=deny))
    return tuple(rules)


def _fingerprints_only(data: Mapping[str, Any]) -> bool:
    value = _table(data, "ledger").get("fingerprints_only", False)
    if not isinstance(value, bool):
        raise ConfigError("[ledger] fingerprints_only must be true or false")
    return value
