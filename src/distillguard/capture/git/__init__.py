"""Git attribution: which lines of which commit came from recorded outside-model output.

- ``repo``: the git plumbing (``Git``); ``diff``: the lines a change added; ``trailers``: AI
  co-author and ``Reviewed-by:`` trailers.
- ``attribute``: ``Attributor`` matches the new content of a commit's files against the
  ledger's index and keeps the added lines the evidence covers.
- ``trace`` / ``notes``: the result as Agent Trace records on ``refs/notes/distillguard``, a
  cache that readers recompute when it is missing or stale (``Attributions``).
- ``blame`` / ``stats``: per-line provenance of a file, shares of added lines.
- ``hooks`` / ``hook``: the post-commit/post-rewrite hooks (``hook`` imports nothing heavy, so
  a broken install is logged, never raised into git).

This package's ``__init__`` imports nothing: the hook entry point must start without numba.
"""
