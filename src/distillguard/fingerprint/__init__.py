"""Edit-tolerant fingerprints: normalized tokens -> k-gram hashes -> winnowing, with spans."""

from distillguard.fingerprint.batch import EncodedBatch, Fingerprinter, Prints
from distillguard.fingerprint.config import CODE, TEXT, FingerprintConfig
from distillguard.fingerprint.normalize import looks_like_code, split_segments

__all__ = [
    "CODE",
    "TEXT",
    "EncodedBatch",
    "FingerprintConfig",
    "Fingerprinter",
    "Prints",
    "looks_like_code",
    "split_segments",
]
