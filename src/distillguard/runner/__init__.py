"""Where batches run: inline, local processes, a Ray cluster (see ``base`` for the interface).

``RayRunner`` lives in :mod:`distillguard.runner.ray` and imports Ray only when entered, so
this package loads without the ``ray`` extra.
"""

from __future__ import annotations

from distillguard.runner.base import Runner, RunnerError
from distillguard.runner.fake import FakeRunner
from distillguard.runner.local import InlineRunner, ProcessRunner, local_runner

__all__ = [
    "FakeRunner",
    "InlineRunner",
    "ProcessRunner",
    "Runner",
    "RunnerError",
    "local_runner",
]
