"""Commit message trailers: AI co-authors (the commit is AI-assisted) and human reviewers.

Coding agents sign their commits with a co-author trailer, e.g. Claude Code's
``Co-Authored-By: Claude <noreply@anthropic.com>`` (or ``Claude Opus 4.5 <...>``), Codex's
``Co-authored-by: Codex <codex@openai.com>``, Aider's ``aider (model) <noreply@aider.chat>``,
Cursor's ``Cursor Agent <cursoragent@cursor.com>``, GitHub Copilot's
``Copilot <...+Copilot@users.noreply.github.com>``; some projects use ``Assisted-by:`` or
``Generated-by:`` instead. A ``Reviewed-by:`` trailer names a reviewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.+?)\s*$")
_AI_KEYS = {"co-authored-by", "assisted-by", "generated-by", "ai-assisted-by"}
_IDENT = re.compile(r"^(.*?)\s*<([^>]*)>\s*$")


@dataclass(frozen=True)
class Agent:
    """How to recognise one coding agent in a trailer."""

    tool: str
    vendor: str
    pattern: re.Pattern[str]


AGENTS = (
    Agent("claude-code", "anthropic", re.compile(r"@anthropic\.com\b|^claude\b", re.I)),
    Agent("codex", "openai", re.compile(r"@openai\.com\b|^(openai\s+)?codex\b", re.I)),
    Agent("cursor", "cursor", re.compile(r"@cursor\.(com|sh)\b|^cursor\b", re.I)),
    Agent(
        "copilot", "github", re.compile(r"\bcopilot@users\.noreply\.github\.com|^copilot\b", re.I)
    ),
    Agent(
        "gemini", "google", re.compile(r"^gemini\b|gemini-code-assist|@google\.com\b.*gemini", re.I)
    ),
    Agent("aider", "aider", re.compile(r"@aider\.chat\b|^aider\b", re.I)),
    Agent("opencode", "opencode", re.compile(r"@opencode\.ai\b|^opencode\b", re.I)),
)


@dataclass(frozen=True)
class Trailer:
    key: str
    value: str


@dataclass(frozen=True)
class Coauthor:
    """An AI co-author trailer: which tool, whose model, and the trailer as written."""

    tool: str
    vendor: str
    trailer: str


def trailers(message: str) -> list[Trailer]:
    """The trailers of a message: ``Key: value`` lines of its last paragraph."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return []
    lines = [line for line in paragraphs[-1].splitlines() if line.strip()]
    found = [_TRAILER.match(line) for line in lines]
    if not all(found):
        return []
    return [Trailer(m[1].lower(), m[2]) for m in found if m]


def ai_coauthors(message: str) -> tuple[Coauthor, ...]:
    """The AI agents a message's trailers name as co-authors."""
    found = []
    for trailer in trailers(message):
        if trailer.key not in _AI_KEYS:
            continue
        agent = next((a for a in AGENTS if a.pattern.search(trailer.value)), None)
        if agent is not None:
            found.append(Coauthor(agent.tool, agent.vendor, trailer.value))
    return tuple(found)


def reviewers(message: str) -> tuple[tuple[str, str], ...]:
    """The (name, email) of every ``Reviewed-by:`` trailer; email may be empty."""
    found = []
    for trailer in trailers(message):
        if trailer.key == "reviewed-by":
            found.append(split_ident(trailer.value))
    return tuple(found)


def split_ident(value: str) -> tuple[str, str]:
    """``Name <email>`` -> (name, email); a bare name gives an empty email."""
    match = _IDENT.match(value)
    if match:
        return match[1].strip(), match[2].strip()
    return value.strip(), ""
