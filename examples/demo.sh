#!/usr/bin/env bash
# The main job, end to end, on the embedded default (SQLite ledger under ./.distillguard):
# record outside-model outputs, then scan a dataset for them.
set -euo pipefail
cd "$(dirname "$0")/.."
DG=.venv/bin/distillguard
echo "== record three outside-model outputs (idempotent: re-running adds nothing)"
$DG record --jsonl examples/outputs.jsonl
echo "== verify the ledger's hash chain"
$DG ledger verify
echo "== scan the example dataset (edited copies hide in src/ui.js, src/cache_utils.py, docs/notes.jsonl)"
$DG scan examples/dataset --out demo-out --id-field id
echo "== demo-out/clean and demo-out/quarantine hold the split dataset; demo-out/report.json the evidence"
