"""AI co-author and reviewer trailers."""

from __future__ import annotations

from distillguard.capture.git.trailers import ai_coauthors, reviewers, trailers


def test_agents_are_recognised() -> None:
    cases = {
        "Co-Authored-By: Claude <noreply@anthropic.com>": ("claude-code", "anthropic"),
        "Co-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>": ("claude-code", "anthropic"),
        "Co-authored-by: Codex <codex@openai.com>": ("codex", "openai"),
        "Co-Authored-By: OpenAI Codex <noreply@openai.com>": ("codex", "openai"),
        "Co-authored-by: Cursor Agent <cursoragent@cursor.com>": ("cursor", "cursor"),
        "Co-authored-by: aider (gpt-4o) <noreply@aider.chat>": ("aider", "aider"),
        "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>": (
            "copilot",
            "github",
        ),
        "Assisted-by: Claude <noreply@anthropic.com>": ("claude-code", "anthropic"),
    }
    for trailer, (tool, vendor) in cases.items():
        (found,) = ai_coauthors(f"Subject\n\nBody.\n\n{trailer}")
        assert (found.tool, found.vendor) == (tool, vendor), trailer


def test_people_and_prose_are_not_agents() -> None:
    assert ai_coauthors("S\n\nCo-authored-by: Claudia Schiffer <claudia@example.com>") == ()
    assert ai_coauthors("S\n\nCo-authored-by: Bob <bob@example.com>") == ()
    assert ai_coauthors("Co-authored-by: Claude <noreply@anthropic.com>") == ()  # subject only
    assert ai_coauthors("S\n\nWe thank Claude.\nCo-authored-by: Claude <x@anthropic.com>") == ()


def test_reviewers() -> None:
    message = "S\n\nReviewed-by: Rita Reviewer <rita@example.com>\nReviewed-by: Sam"
    assert reviewers(message) == (("Rita Reviewer", "rita@example.com"), ("Sam", ""))
    assert [t.key for t in trailers(message)] == ["reviewed-by", "reviewed-by"]
