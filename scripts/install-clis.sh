#!/usr/bin/env bash
# Install the real Claude Code, Codex and Gemini CLIs, pinned, into an ignored folder of the repository
# (default .venv/clis, so `make clean` removes them). Idempotent: does nothing when the pinned
# versions are already there. Prints the folder holding `claude`, `codex` and `gemini` as its
# last line.
#   scripts/install-clis.sh [PREFIX]
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.328
CODEX_VERSION=0.169.0
GEMINI_CLI_VERSION=0.61.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-${DISTILLGUARD_CLIS_DIR:-$root/.venv/clis}}"
bin="$prefix/node_modules/.bin"

installed() {
  [[ -x "$bin/claude" && -x "$bin/codex" && -x "$bin/gemini" ]] || return 1
  [[ "$("$bin/claude" --version 2>/dev/null)" == "$CLAUDE_CODE_VERSION "* ]] || return 1
  [[ "$("$bin/codex" --version 2>/dev/null)" == "codex-cli $CODEX_VERSION" ]] || return 1
  [[ "$("$bin/gemini" --version 2>/dev/null)" == "$GEMINI_CLI_VERSION" ]] || return 1
}

if ! installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-clis: npm is not on PATH; install Node.js (with npm) to run the CLI tests," \
      "or set DISTILLGUARD_SKIP_CLIS=1 to skip them" >&2
    exit 1
  fi
  mkdir -p "$prefix"
  log="$prefix/npm-install.log"
  echo "install-clis: npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" \
    "@openai/codex@$CODEX_VERSION @google/gemini-cli@$GEMINI_CLI_VERSION into $prefix" >&2
  if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error \
      "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" \
      "@google/gemini-cli@$GEMINI_CLI_VERSION" \
      >"$log" 2>&1; then
    echo "install-clis: npm install failed (log: $log):" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  if ! installed; then
    echo "install-clis: npm finished but the CLIs do not run at the pinned versions:" >&2
    "$bin/claude" --version >&2 || true
    "$bin/codex" --version >&2 || true
    "$bin/gemini" --version >&2 || true
    exit 1
  fi
fi
echo "$bin"
