"""Violations of the git rules in one commit's attribution.

A rule is broken by every added line, in a path the rule covers, that came from an output of a
vendor the rule denies. A rule with ``require = "review"`` is satisfied instead when someone
other than the author reviewed the commit (a ``Reviewed-by:`` trailer, or a review recorded as
a note on ``refs/notes/distillguard-reviews``); for such rules an AI co-author trailer counts as
outside output too, on every line the commit added under the rule's paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.capture.git.attribute import Attribution, FileAttribution
from distillguard.capture.git.repo import Git
from distillguard.capture.git.trailers import reviewers, split_ident
from distillguard.config import Rule
from distillguard.errors import GitError
from distillguard.policy.rules import Policy

REVIEWS_REF = "refs/notes/distillguard-reviews"
_NEEDS_REVIEW = "without a review by someone other than the author"


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (path, 1-based inclusive lines, commit) and whose output."""

    rule_id: str
    path: str
    start_line: int
    end_line: int
    vendor: str
    model: str
    output_id: str
    commit: str
    message: str


def check_attribution(att: Attribution, policy: Policy, reviewed: bool) -> list[Violation]:
    """The violations of one commit; ``reviewed``: a person other than the author reviewed it."""
    found: list[Violation] = []
    for rule in policy.git_rules():
        if "review" in rule.require and reviewed:
            continue
        for f in att.files:
            if policy.covers(rule, f.path):
                found.extend(_file_violations(att, f, rule, policy))
    return found


def _file_violations(
    att: Attribution, f: FileAttribution, rule: Rule, policy: Policy
) -> list[Violation]:
    needs = _NEEDS_REVIEW if rule.require else ""
    found = [
        Violation(
            rule.id,
            f.path,
            start,
            end,
            c.vendor,
            c.model,
            c.output_id,
            att.revision,
            " ".join(x for x in (f"output of {c.vendor}/{c.model} ({c.output_id})", needs) if x),
        )
        for c in f.contributions
        if policy.denies(rule, c.vendor)
        for start, end in c.ranges
    ]
    if "review" in rule.require and not found:
        found.extend(_coauthored(att, f, rule, policy))
    return found


def _coauthored(
    att: Attribution, f: FileAttribution, rule: Rule, policy: Policy
) -> list[Violation]:
    """An AI-assisted commit (co-author trailer) needs the review too, for all it added."""
    agents = [c for c in att.coauthors if policy.denies(rule, c.vendor)]
    if not agents or not f.added:
        return []
    agent = agents[0]
    spans = f.added_ranges or ((1, 1),)
    return [
        Violation(
            rule.id,
            f.path,
            start,
            end,
            agent.vendor,
            agent.tool,
            "",
            att.revision,
            f"AI-assisted commit ({agent.trailer}) {_NEEDS_REVIEW}",
        )
        for start, end in spans
    ]


def is_reviewed(git: Git, sha: str, message: str, author: tuple[str, str]) -> bool:
    """Whether someone other than the author reviewed the commit (trailer or review note)."""
    named = list(reviewers(message))
    try:
        note = git.text("notes", "--ref", REVIEWS_REF, "show", sha)
    except GitError:
        note = ""
    for line in note.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "reviewed-by" and value.strip():
            named.append(split_ident(value.strip()))
    return any(_other_person(r, author) for r in named)


def _other_person(reviewer: tuple[str, str], author: tuple[str, str]) -> bool:
    r_name, r_email = reviewer[0].casefold(), reviewer[1].casefold()
    a_name, a_email = author[0].casefold(), author[1].casefold()
    if r_email and a_email:
        return r_email != a_email and r_name != a_name
    return bool(r_name) and r_name != a_name
