"""The one exception tree of distillguard.

    DistillguardError            root: everything distillguard raises on purpose
     ├── ConfigError             a bad config file, setting or argument
     ├── LedgerError             the ledger cannot be opened, read or written
     │    ├── LedgerMissingError there is no ledger where one was to be read
     │    └── TamperError        the hash chain does not verify
     ├── IndexError_             the fingerprint index is missing, corrupt or mismatched
     │    └── ConfigMismatchError   an index built with other fingerprint settings
     ├── InputError              an input cannot be read (scan, record)
     ├── UpstreamError           a vendor upstream cannot be reached (gateway)
     ├── GitError                a git command failed, or this is not a git repository
     ├── SignatureError          a signed statement does not verify with the given key
     └── MissingDependencyError  an optional extra is not installed

Adapters translate what they meet (SQLAlchemy, OS, decoders) into this tree at the boundary,
with ``raise X(msg) from exc``. This module imports nothing internal.
"""

from __future__ import annotations


class DistillguardError(Exception):
    """Root of every error distillguard raises on purpose."""


class ConfigError(DistillguardError):
    """A configuration file, setting or argument is invalid."""


class LedgerError(DistillguardError):
    """The ledger cannot be opened, read or written."""


class LedgerMissingError(LedgerError):
    """There is no ledger at the configured place, and the caller only reads one."""


class TamperError(LedgerError):
    """The ledger's hash chain does not verify."""


class IndexError_(DistillguardError):  # named so as not to shadow the builtin IndexError
    """The fingerprint index is missing, corrupt or does not match."""


class ConfigMismatchError(IndexError_):
    """An index built with other fingerprint settings cannot be mixed with these."""


class InputError(DistillguardError):
    """An input (file, record, stream) cannot be read or decoded."""


class GitError(DistillguardError):
    """A git command failed, or the working directory is not a git repository."""


class SignatureError(DistillguardError):
    """A signed statement (a DSSE envelope) does not verify with the given public key."""


class UpstreamError(DistillguardError):
    """A vendor upstream cannot be reached, or timed out (``timeout``)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class MissingDependencyError(DistillguardError):
    """An optional dependency (an extra) is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'distillguard[{extra}]'"
        )
        self.package = package
        self.extra = extra
