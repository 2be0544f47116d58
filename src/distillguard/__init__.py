"""distillguard: capture outside-model output and keep it out of training data."""

from distillguard.errors import DistillguardError
from distillguard.model import Finding, Match, NewOutput, Output, Recorded

__version__ = "0.1.0"

__all__ = [
    "DistillguardError",
    "Finding",
    "Match",
    "NewOutput",
    "Output",
    "Recorded",
    "__version__",
]
