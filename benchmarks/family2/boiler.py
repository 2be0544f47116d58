"""Boilerplate written independently, each time: a Dockerfile, a CI workflow, an argparse main.

Answers carry some (as assistants write them); negatives carry other draws of the same kind,
similar but made separately, which is what a company's own repository is full of.
"""

from __future__ import annotations

import random

KINDS = ("dockerfile", "ci", "argparse")
LANG = {"dockerfile": "dockerfile", "ci": "yaml", "argparse": "python"}
FILENAME = {"dockerfile": "Dockerfile", "ci": "ci.yml", "argparse": "cli.py"}


def make(kind: str, rng: random.Random) -> str:
    return {"dockerfile": dockerfile, "ci": ci, "argparse": argparse_main}[kind](rng)


def dockerfile(rng: random.Random) -> str:
    stack = rng.choice(["python", "node", "go"])
    lines = []
    if stack == "python":
        base = rng.choice(["python:3.11-slim", "python:3.12-slim", "python:3.10-slim-bookworm"])
        lines += [f"FROM {base}", ""]
        if rng.random() < 0.6:
            lines += ["ENV PYTHONDONTWRITEBYTECODE=1 \\", "    PYTHONUNBUFFERED=1", ""]
        workdir = rng.choice(["/app", "/srv/app", "/usr/src/app", "/code"])
        lines += [f"WORKDIR {workdir}", ""]
        if rng.random() < 0.5:
            pkgs = " ".join(rng.sample(["build-essential", "curl", "git", "libpq-dev", "gcc"], 2))
            lines += [
                "RUN apt-get update \\",
                f"    && apt-get install -y --no-install-recommends {pkgs} \\",
                "    && rm -rf /var/lib/apt/lists/*",
                "",
            ]
        req = rng.choice(["requirements.txt", "requirements/prod.txt"])
        lines += [f"COPY {req} .", f"RUN pip install --no-cache-dir -r {req.split('/')[-1]}", ""]
        lines += ["COPY . .", ""]
        cmd = rng.choice(
            [
                '["python", "-m", "app"]',
                '["gunicorn", "-b", "0.0.0.0:8000", "app:app"]',
                '["python", "main.py"]',
                '["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080"]',
            ]
        )
        port = rng.choice(["8000", "8080", "5000"])
    elif stack == "node":
        base = rng.choice(["node:20-alpine", "node:18-slim", "node:22-bookworm-slim"])
        workdir = rng.choice(["/app", "/usr/src/app", "/home/node/app"])
        install = rng.choice(["npm ci --omit=dev", "npm ci --only=production", "npm install"])
        lines += [f"FROM {base}", "", f"WORKDIR {workdir}", ""]
        lines += ["COPY package*.json ./", f"RUN {install}", "", "COPY . .", ""]
        cmd = rng.choice(['["node", "server.js"]', '["npm", "start"]', '["node", "index.js"]'])
        port = rng.choice(["3000", "8080"])
    else:
        ver = rng.choice(["1.22", "1.21", "1.23"])
        lines += [f"FROM golang:{ver} AS build", "", "WORKDIR /src", ""]
        lines += ["COPY go.mod go.sum ./", "RUN go mod download", "", "COPY . .", ""]
        lines += ["RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app", ""]
        lines += [f"FROM {rng.choice(['gcr.io/distroless/static', 'alpine:3.19'])}", ""]
        lines += ["COPY --from=build /out/app /app", ""]
        cmd = '["/app"]'
        port = rng.choice(["8080", "9090"])
    if rng.random() < 0.5:
        user = rng.choice(["app", "appuser", "nonroot"])
        if stack != "go":
            lines += [f"RUN useradd --create-home {user}" if stack == "python" else "USER node"]
        lines += [f"USER {user}", ""] if stack != "node" else [""]
    lines += [f"EXPOSE {port}", "", f"CMD {cmd}"]
    return "\n".join(lines)


def ci(rng: random.Random) -> str:
    stack = rng.choice(["python", "node"])
    name = rng.choice(["CI", "Tests", "build", "test", "Lint and test"])
    branches = rng.choice(["[main]", "[ main ]", "[main, develop]", '["main"]'])
    lines = [f"name: {name}", "", "on:", "  push:", f"    branches: {branches}", "  pull_request:"]
    if rng.random() < 0.4:
        lines += [f"    branches: {branches}"]
    job = rng.choice(["test", "build", "tests", "ci"])
    lines += [
        "",
        "jobs:",
        f"  {job}:",
        f"    runs-on: {rng.choice(['ubuntu-latest', 'ubuntu-22.04'])}",
    ]
    matrix = rng.random() < 0.5
    if stack == "python":
        versions = rng.sample(['"3.9"', '"3.10"', '"3.11"', '"3.12"'], rng.randint(2, 3))
        version = "${{ matrix.python-version }}" if matrix else versions[-1]
        if matrix:
            lines += [
                "    strategy:",
                "      matrix:",
                f"        python-version: [{', '.join(sorted(versions))}]",
            ]
        lines += ["    steps:", f"      - uses: actions/checkout@v{rng.choice([3, 4])}"]
        lines += [
            f"      - name: Set up Python{' ' + version if matrix else ''}",
            f"        uses: actions/setup-python@v{rng.choice([4, 5])}",
            "        with:",
            f"          python-version: {version}",
        ]
        if rng.random() < 0.5:
            lines += ["          cache: pip"]
        lines += ["      - name: Install dependencies", "        run: |"]
        lines += ["          python -m pip install --upgrade pip"]
        lines += [
            f"          pip install {rng.choice(['-r requirements.txt', '-e .[dev]', '.[test]'])}"
        ]
        if rng.random() < 0.5:
            lines += [
                "      - name: Lint",
                f"        run: {rng.choice(['ruff check .', 'flake8 .'])}",
            ]
        lines += [
            "      - name: Test",
            f"        run: {rng.choice(['pytest', 'pytest -q', 'python -m pytest'])}",
        ]
    else:
        versions = rng.sample(["18.x", "20.x", "22.x"], 2)
        version = "${{ matrix.node-version }}" if matrix else versions[0]
        if matrix:
            lines += [
                "    strategy:",
                "      matrix:",
                f"        node-version: [{', '.join(sorted(versions))}]",
            ]
        lines += ["    steps:", f"      - uses: actions/checkout@v{rng.choice([3, 4])}"]
        lines += [
            "      - name: Use Node.js",
            f"        uses: actions/setup-node@v{rng.choice([3, 4])}",
            "        with:",
            f"          node-version: {version}",
        ]
        if rng.random() < 0.5:
            lines += ["          cache: npm"]
        lines += [f"      - run: {rng.choice(['npm ci', 'npm install'])}"]
        if rng.random() < 0.5:
            lines += ["      - run: npm run lint"]
        lines += [
            f"      - run: {rng.choice(['npm test', 'npm run test', 'npm run build --if-present'])}"
        ]
    return "\n".join(lines)


_OPTIONS = [
    ('"input"', 'help="input file"'),
    ('"paths", nargs="+"', 'help="files to process"'),
    ('"-o", "--output"', 'default="-", help="where to write the result"'),
    ('"-v", "--verbose"', 'action="store_true", help="print more"'),
    ('"-q", "--quiet"', 'action="store_true", help="print less"'),
    ('"--dry-run"', 'action="store_true", help="show what would be done"'),
    ('"-n", "--limit"', 'type=int, default=10, help="maximum number of items"'),
    ('"--config"', 'type=Path, default=None, help="configuration file"'),
    ('"--workers"', 'type=int, default=4, help="number of worker processes"'),
    ('"--format"', 'choices=["json", "csv", "text"], default="text", help="output format"'),
    ('"--timeout"', 'type=float, default=30.0, help="seconds to wait"'),
    ('"--log-level"', 'default="INFO", help="logging level"'),
]


def argparse_main(rng: random.Random) -> str:
    desc = rng.choice(
        ["Process the input files.", "Command-line entry point.", "Run the tool.", "Convert data."]
    )
    options = rng.sample(_OPTIONS, rng.randint(2, 5))
    uses_path = any("Path" in o[1] for o in options)
    imports = ["import argparse", "import logging", "import sys"]
    if uses_path:
        imports.append("from pathlib import Path")
    lines = [*imports, "", ""]
    fn = rng.choice(["parse_args", "build_parser", "get_args"])
    lines += [f"def {fn}(argv=None):"]
    lines += [f'    parser = argparse.ArgumentParser(description="{desc}")']
    for flags, kw in options:
        lines += [f"    parser.add_argument({flags}, {kw})"]
    if fn == "build_parser":
        lines += ["    return parser", "", ""]
        parse = "build_parser().parse_args(argv)"
    else:
        lines += ["    return parser.parse_args(argv)", "", ""]
        parse = f"{fn}(argv)"
    lines += ["def main(argv=None):", f"    args = {parse}"]
    if any("verbose" in o[0] for o in options):
        lines += ["    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)"]
    else:
        lines += ["    logging.basicConfig(level=logging.INFO)"]
    lines += [f'    logging.{rng.choice(["info", "debug"])}("arguments: %s", args)']
    lines += [f"    return {rng.choice(['0', 'run(args)'])}"]
    lines += [
        "",
        "",
        'if __name__ == "__main__":',
        f"    {rng.choice(['sys.exit(main())', 'raise SystemExit(main())'])}",
    ]
    return "\n".join(lines)
