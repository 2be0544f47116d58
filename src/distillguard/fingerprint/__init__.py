"""Edit-tolerant fingerprints: normalized tokens -> k-gram hashes -> winnowing, with spans."""

from distillguard.fingerprint.batch import EncodedBatch, Fingerprinter, Prints
from distillguard.fingerprint.config import CODE, TEXT, FingerprintConfig, settings_for
from distillguard.fingerprint.parts import Layout, Part, Piece, layout, split_segments

__all__ = [
    "CODE",
    "TEXT",
    "EncodedBatch",
    "FingerprintConfig",
    "Fingerprinter",
    "Layout",
    "Part",
    "Piece",
    "Prints",
    "layout",
    "settings_for",
    "split_segments",
]
