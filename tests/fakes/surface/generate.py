"""Regenerate the pinned API surfaces (``anthropic.json``, ``openai.json``) from the official SDKs.

Every resource method of the ``anthropic`` and ``openai`` Python SDKs calls ``self._get``,
``_post``, ``_put``, ``_patch``, ``_delete`` or ``_get_api_list`` (GET, or the ``method=`` it is
given) with its path as a literal, an f-string or ``path_template("...")`` (or, where the path
is a URL the vendor gave, such as a batch's ``results_url``, the ``span_route`` it names). This
script reads those calls from the installed SDKs' sources (the synchronous classes; the async
ones repeat them) and writes each vendor's endpoints, sorted, with the SDK version they came
from:

    .venv/bin/python -m tests.fakes.surface.generate          # rewrite the JSON files
    .venv/bin/python -m tests.fakes.surface.generate --check  # exit 1 if they are stale

OpenAI's paths are relative to its ``/v1`` base URL; Anthropic's carry their ``/v1``.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
VERBS = {"_get": "GET", "_post": "POST", "_put": "PUT", "_patch": "PATCH", "_delete": "DELETE",
         "_get_api_list": "GET"}  # fmt: skip
#: vendor -> (SDK package, what goes before its paths)
SDKS = {"anthropic": ("anthropic", ""), "openai": ("openai", "/v1")}


def _template(node: ast.expr) -> str | None:
    """The path a call's first argument names, with ``{name}`` placeholders."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "id", "") == "path_template":
        return _template(node.args[0])
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("{" + ast.unparse(getattr(value, "value", value)) + "}")
        return "".join(parts)
    return None


def _span_route(call: ast.Call) -> str | None:
    """The route a call names in ``span_route=`` (when its path is a URL the vendor gave)."""
    for node in ast.walk(call):
        if isinstance(node, ast.keyword) and node.arg == "span_route":
            return _template(node.value)
    return None


def _method(call: ast.Call, verb: str) -> str:
    for keyword in call.keywords:
        if keyword.arg == "method" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value).upper()
    return VERBS[verb]


def _calls(source: Path, root: Path) -> list[dict[str, str]]:
    found = []
    tree = ast.parse(source.read_text())
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if cls.name.startswith("Async"):
            continue
        for function in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                verb = getattr(call.func, "attr", "")
                if verb not in VERBS or getattr(call.func, "value", None) is None:
                    continue
                path = _template(call.args[0]) if call.args else None
                path = path if path and path.startswith("/") else _span_route(call)
                if path is None or not path.startswith("/"):
                    continue
                module = source.relative_to(root).with_suffix("").as_posix().replace("/", ".")
                sdk = f"{module}.{cls.name}.{function.name}"
                found.append({"method": _method(call, verb), "path": path, "sdk": sdk})
    return found


def surface(vendor: str) -> dict[str, object]:
    """The endpoints of ``vendor``'s installed SDK."""
    package, prefix = SDKS[vendor]
    root = Path(importlib.import_module(package).__file__ or "").parent
    endpoints: dict[tuple[str, str], dict[str, str]] = {}
    for source in sorted((root / "resources").rglob("*.py")):
        for call in _calls(source, root):
            call["path"] = prefix + call["path"].split("?")[0]
            endpoints.setdefault((call["method"], call["path"]), call)
    return {
        "vendor": vendor,
        "source": f"{package} {importlib.metadata.version(package)} (Python SDK resources)",
        "endpoints": [endpoints[key] for key in sorted(endpoints, key=lambda k: (k[1], k[0]))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for vendor in SDKS:
        target = HERE / f"{vendor}.json"
        text = json.dumps(surface(vendor), indent=1) + "\n"
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target.name)
        if not args.check:
            target.write_text(text)
    if stale:
        print(("stale: " if args.check else "wrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
