"""Where the real code and prose come from: installed Python packages, the stdlib, npm packages."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from .extract import is_generated

# Popular pure-JS packages; their dependencies come along and count as packages too.
NPM_PACKAGES = (
    "lodash",
    "underscore",
    "async",
    "moment",
    "express",
    "commander",
    "yargs",
    "axios",
    "bluebird",
    "jquery",
    "handlebars",
    "marked",
    "semver",
    "ramda",
    "acorn",
    "esprima",
    "immutable",
    "eslint",
    "js-yaml",
    "luxon",
    "validator",
    "uglify-js",
    "ws",
    "mocha",
    "chai",
    "cheerio",
    "nunjucks",
)

SKIP_DIR_PARTS = {
    "__pycache__",
    "_vendor",
    "vendor",
    "vendored",
    "_vendored",
    "site-packages",
    "node_modules",
}
# API clients generated from an OpenAPI spec (Stainless, Castiron): thousands of files that are
# one template under other names, so two of them are "the same code, renamed" without anyone
# having copied anything. They are in the venv only as the gateway tests' dependencies.
GENERATED_PACKAGES = {"anthropic", "openai"}
STDLIB_SKIP = {"test", "site-packages", "ensurepip", "lib2to3", "idlelib", "turtledemo"}
PROSE_SUFFIXES = {".md", ".rst", ".txt", ".markdown"}
PROSE_SKIP_NAMES = {"entry_points.txt", "top_level.txt", "requires.txt", "sources.txt"}
MAX_LINE = 400  # longer lines mean minified or generated files
MAX_PROSE_LINE = 5000  # markdown often keeps a paragraph on one line


@dataclass
class Package:
    """A package and the files of each kind it holds."""

    name: str
    lang: str  # py | js
    code: list[Path] = field(default_factory=list)
    prose: list[Path] = field(default_factory=list)


def ensure_npm(npm_dir: Path) -> Path:
    """Install the npm packages once (the registry is the only reachable network)."""
    modules = npm_dir / "node_modules"
    if all((modules / name).is_dir() for name in NPM_PACKAGES):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch the JavaScript sources")
    npm_dir.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(npm_dir), "--no-audit", "--no-fund"]
    cmd += ["--ignore-scripts", "--no-save", *NPM_PACKAGES]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return modules


def npm_versions(modules: Path) -> dict[str, str]:
    """Installed versions of the requested npm packages (the corpus records them)."""
    out = {}
    for name in NPM_PACKAGES:
        manifest = modules / name / "package.json"
        if manifest.exists():
            out[name] = json.loads(manifest.read_text()).get("version", "?")
    return out


def _skipped(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts[:-1]
    return any(p in SKIP_DIR_PARTS or p.startswith(".") for p in parts)


def _readable(path: Path, max_line: int) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    if not text.strip() or is_generated(text):
        return False
    return max(len(line) for line in text.splitlines() or [""]) <= max_line


def _site_dirs() -> list[Path]:
    """The venv's site-packages, then the base interpreter's (also installed packages)."""
    venv = Path(sysconfig.get_paths()["purelib"])
    base = Path(sysconfig.get_paths()["stdlib"]) / "site-packages"
    return [venv] + ([base] if base.is_dir() and base != venv else [])


def _python_roots() -> list[tuple[str, Path]]:
    roots: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for site in _site_dirs():
        for entry in sorted(site.iterdir()):
            name = entry.name.removesuffix(".py")
            if entry.name.startswith(("_", ".")) or entry.name.endswith((".dist-info", ".libs")):
                continue
            if (
                name in seen
                or name == "distillguard"
                or name in GENERATED_PACKAGES
                or not (entry.is_dir() or entry.suffix == ".py")
            ):
                continue
            seen.add(name)
            roots.append((name, entry))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for entry in sorted(stdlib.iterdir()):
        if entry.name in STDLIB_SKIP or entry.name.startswith(("_", ".", "config-")):
            continue
        if entry.is_dir() or entry.suffix == ".py":
            roots.append(("stdlib/" + entry.name.removesuffix(".py"), entry))
    return roots


def _dist_prose() -> dict[str, list[Path]]:
    """METADATA of each distribution, keyed by top-level package name (first site wins)."""
    found: dict[str, list[Path]] = {}
    infos = [info for site in _site_dirs() for info in sorted(site.glob("*.dist-info"))]
    for info in infos:
        top = info / "top_level.txt"
        names = top.read_text().split() if top.exists() else [info.name.split("-")[0].lower()]
        files = [p for p in [info / "METADATA"] if p.exists()]
        for name in names:
            if name not in found:
                found[name] = files
    return found


def python_packages() -> list[Package]:
    dist_prose = _dist_prose()
    packages = []
    for name, root in _python_roots():
        pkg = Package(name=name, lang="py")
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        pkg.code = [p for p in files if root.is_file() or not _skipped(p, root)]
        if root.is_dir():
            found = sorted(root.rglob("*"))
            pkg.prose = [p for p in found if _is_prose(p) and not _skipped(p, root)]
        pkg.prose += dist_prose.get(name, [])
        if pkg.code or pkg.prose:
            packages.append(pkg)
    return packages


def _is_prose(path: Path) -> bool:
    if path.name in PROSE_SKIP_NAMES or not path.is_file():
        return False
    return path.suffix.lower() in PROSE_SUFFIXES or path.name == "METADATA"


def _npm_package_dirs(modules: Path) -> list[tuple[str, Path]]:
    dirs = []
    for entry in sorted(modules.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.name.startswith("@"):
            dirs += [(f"{entry.name}/{sub.name}", sub) for sub in sorted(entry.iterdir())]
        else:
            dirs.append((entry.name, entry))
    return dirs


def js_packages(modules: Path) -> list[Package]:
    packages = []
    for name, root in _npm_package_dirs(modules):
        pkg = Package(name="npm/" + name, lang="js")
        for path in sorted(root.rglob("*")):
            if not path.is_file() or _skipped(path, root):
                continue
            if path.suffix in (".js", ".cjs", ".mjs") and not path.name.endswith(".min.js"):
                pkg.code.append(path)
            elif _is_prose(path):
                pkg.prose.append(path)
        if pkg.code or pkg.prose:
            packages.append(pkg)
    return packages


def split_packages(
    packages: list[Package], seed: int, source_share: float = 0.5
) -> tuple[list[Package], list[Package]]:
    """Split packages into output sources and hosts: a host never shares an output's package."""
    rng = random.Random(f"split-{seed}")
    shuffled = sorted(packages, key=lambda p: p.name)
    rng.shuffle(shuffled)
    sources, hosts = [], []
    for lang in ("py", "js"):
        group = [p for p in shuffled if p.lang == lang]
        cut = round(len(group) * source_share)
        sources += group[:cut]
        hosts += group[cut:]
    return sources, hosts


def host_files(
    packages: list[Package], kind: str, min_size: int, max_size: int
) -> list[tuple[str, Path]]:
    """(package, file) of readable files of ``kind`` ('py', 'js' or 'prose') within a size range."""
    out = []
    for pkg in packages:
        files = pkg.prose if kind == "prose" else (pkg.code if pkg.lang == kind else [])
        for path in files:
            size = path.stat().st_size
            max_line = MAX_PROSE_LINE if kind == "prose" else MAX_LINE
            if min_size <= size <= max_size and _readable(path, max_line):
                out.append((pkg.name, path))
    return out
