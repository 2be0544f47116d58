"""The ledger: an append-only, hash-chained store of every captured output."""

from distillguard.ledger.chain import VerifyReport
from distillguard.ledger.store import Ledger

__all__ = ["Ledger", "VerifyReport"]
