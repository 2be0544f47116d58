"""Stream and body parsers, one module per wire format; see :mod:`.base` for the interface."""

from distillguard.capture.gateway.parsers.base import Parser, Reply, Tokens
from distillguard.capture.gateway.parsers.pick import parser_for

__all__ = ["Parser", "Reply", "Tokens", "parser_for"]
