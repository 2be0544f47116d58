"""Transcript importers: the coding agents' own session logs, read into the ledger.

- ``records``: JSON Lines reading (a bad line is a :class:`Problem`, never a crash) and the
  :class:`Answer` both readers produce: one output per model answer, with its file edits.
- ``edits``: what a tool call wrote to which file (Write/Edit/MultiEdit/NotebookEdit,
  ``apply_patch`` split per file), through the gateway's own ``tools.contribution``.
- ``claude_code``: ``~/.claude/projects/**/<session>.jsonl`` (one record per content block,
  grouped by the vendor's message id).
- ``codex``: ``~/.codex/sessions/**/rollout-*.jsonl`` (response items, closed by the
  ``token_usage_record`` that names the response id; the model from ``turn_context``).
- ``importer``: a directory of transcripts into the ledger, idempotently.

Every answer carries the vendor's message/response id, so its output merges with the gateway's
record of the same answer (and with a hook's): importing twice, or after the gateway, adds
nothing. This package's ``__init__`` imports nothing: the agent hooks use it on their hot path.
"""
