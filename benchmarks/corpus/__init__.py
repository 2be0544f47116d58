"""The detection-quality corpus: real code and prose, labelled edits, checked ground truth."""

from .build import GENERATOR_VERSION, build

__all__ = ["GENERATOR_VERSION", "build"]
