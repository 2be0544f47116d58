"""Agent hooks: Claude Code's and Codex's ``PostToolUse`` hooks record each file edit.

- ``install``: merge the hook into Claude Code's ``settings.json`` / Codex's ``hooks.json``
  (with Codex's trust record), keeping what is there; installing twice leaves one hook.
- ``run``: what the installed hook runs (``python -m distillguard.capture.hooks AGENT``): reads
  the hook's JSON on standard input and records it; never fails the agent: every error is
  logged to ``$DISTILLGUARD_HOME/hooks.log`` and it exits 0, within a time budget.
- ``record``: finds the answer that made the call in the agent's transcript (with the
  importers' readers) and records its output and edits, keyed by the vendor's message id.

This package's ``__init__`` imports nothing, so the hook starts fast (no numba, no CLI).
"""
