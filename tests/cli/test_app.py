"""The command line's last boundary: no command ends in a traceback with exit 1 (a pipeline
reads exit 1 as "findings"); click's own errors and exits keep their codes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from distillguard.cli._app import Group
from distillguard.errors import InputError


def group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=Group)
    def main() -> None:
        """A command line whose one command raises ``exc``."""

    @main.command()
    def go() -> None:
        raise exc

    return main


def invoke(exc: BaseException) -> tuple[int, str]:
    result = CliRunner().invoke(group_raising(exc), ["go"], catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def test_a_bug_is_one_clear_line_and_exit_2() -> None:
    code, output = invoke(TypeError("str is not valid UTF-8: surrogates not allowed"))
    assert code == 2
    assert output.startswith("error: unexpected TypeError at ") and "/test_app.py:" in output
    assert output.endswith("str is not valid UTF-8: surrogates not allowed (a bug in distillguard)")


def test_os_and_distillguard_errors_are_exit_2_with_their_words() -> None:
    assert invoke(OSError(28, "No space left on device", "out/report.json")) == (
        2,
        "error: out/report.json: No space left on device",
    )
    assert invoke(InputError("caf\udce9.bin: gone")) == (2, "error: caf\\xe9.bin: gone")


@pytest.mark.parametrize(
    ("exc", "code"),
    [(click.UsageError("no such option"), 2), (click.exceptions.Exit(0), 0), (SystemExit(1), 1)],
)
def test_click_and_exits_keep_their_codes(exc: BaseException, code: int) -> None:
    assert CliRunner().invoke(group_raising(exc), ["go"]).exit_code == code
