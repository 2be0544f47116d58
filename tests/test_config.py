"""The config file is strict: ``config validate`` turns every way a file can be broken into a
clear error (exit 2), never a traceback, names every problem of every section at once as
``FILE: [section] key: problem (did you mean X?)``, and warns (exit 0) of vendor names nothing
configured knows. Also the ``[scan]`` limits and the upstreams' fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.config import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_RATIO,
    ScanLimits,
    Upstream,
    load_settings,
    parse_size,
)
from distillguard.errors import ConfigError


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the ConfigError that ``text`` as a config file raises."""
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "c.toml", {})
    return str(info.value).replace(f"{tmp_path / 'c.toml'}: ", "FILE: ").splitlines()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[vendors.x]\nclass = "caf\xe9"\n', "bad.toml: invalid TOML: not UTF-8 (byte 24)"),
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "bad.toml: invalid TOML: nested too deeply"),
        (b"a = " + b"{b = " * 3000 + b"1" + b"}" * 3000 + b"\n", "invalid TOML: nested too deeply"),
        (b"[scan\n", "bad.toml: invalid TOML: "),
    ],
)
def test_a_file_that_is_no_toml_is_a_clear_error(
    run, tmp_path: Path, content: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    """Before: invalid UTF-8 and deep nesting ended in a traceback with exit 1."""
    (tmp_path / "bad.toml").write_bytes(content)
    result = run("--config", "bad.toml", "config", "validate")
    assert result.exit_code == 2
    assert said(result).startswith("error: ") and message in said(result)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[team.ml]\nvendors = ["anthropic"]\n',
         "[team.ml]: unknown table (did you mean [teams.ml]?)"),
        ('[upstream.x]\napi = "openai"\n',
         "[upstream.x]: unknown table (did you mean [upstreams.x]?)"),
        ('[[rule]]\nid = "r"\n', "[[rule]]: unknown table (did you mean [[rules]]?)"),
        ("[ledgr]\nfingerprints_only = true\n", "[ledgr]: unknown table (did you mean [ledger]?)"),
        ('[gateway]\nprice = "p.toml"\n', "[gateway] price: unknown key (did you mean prices?)"),
        ("[ledger]\nfingerprint_only = true\n",
         "[ledger] fingerprint_only: unknown key (did you mean fingerprints_only?)"),
        ('[vendors.m]\nklass = "internal"\n',
         "[vendors.m] klass: unknown key (did you mean class?)"),
        ("[teams.ml]\nbudget = 5\n", "[teams.ml] budget: unknown key (did you mean budget_usd?)"),
        ('[upstreams.x]\napi = "openai"\nbase_url = "https://x.example"\nkeyenv = "K"\n',
         "[upstreams.x] keyenv: unknown key (did you mean key_env?)"),
        ("[scan]\nmax_ratoi = 3\n", "[scan] max_ratoi: unknown key (did you mean max_ratio?)"),
        ('[[rules]]\nid = "r"\npath = ["x"]\ndatasets = ["training"]\n',
         "[[rules]] #1 (r) path: unknown key (did you mean paths?)"),
        ("[rules]\nid = 3\n", "[rules]: must be an array of tables: write [[rules]]"),
        ("teams = 3\n", "teams: must be a table: write [teams]"),
        ('[vendors]\nmetacode = "internal"\n',
         "[vendors.metacode]: must be a table ([vendors] metacode = ... is not one)"),
    ],
)  # fmt: skip
def test_an_unknown_table_or_key_is_an_error_with_a_guess(
    tmp_path: Path, text: str, line: str
) -> None:
    """Before: each of these was ignored; a typo'd [team.ml] dropped every restriction."""
    assert problems(tmp_path, text) == [f"FILE: {line}"]


def test_an_unknown_top_level_key_lists_the_tables(tmp_path: Path) -> None:
    assert problems(tmp_path, 'prices = "p.toml"\n') == [
        "FILE: prices: unknown top-level key (the file holds [vendors], [upstreams], [teams], "
        "[[rules]], [ledger], [gateway], [scan])"
    ]


def test_every_section_is_told_at_once_in_one_format(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: only the first bad upstream was reported, and each section had its own form."""
    text = (
        '[[rule]]\nid = "x"\n'
        '[vendors.m]\nclass = "inside"\n'
        '[upstreams.a]\napi = "openai"\nbase_url = "http://"\nkey_env = 123\n'
        '[upstreams.b]\napi = "gemni"\nbase_url = "https://x.example?y=1"\n'
        '[[rules]]\nid = "r"\npaths = ["x/**"]\ndeny = "anthropic"\n'
        "[ledger]\nfingerprints_only = 1\n"
        "[teams.ml]\nbudget_usd = nan\n"
        "[gateway]\nmax_body_mb = inf\n"
        "[scan]\nmax_ratio = 0\n"
    )
    assert problems(tmp_path, text) == [
        "FILE: [[rule]]: unknown table (did you mean [[rules]]?)",
        "FILE: [vendors.m] class: 'inside': must be one of external, internal",
        "FILE: [upstreams.a] base_url: 'http://' has no host (or a bad port)",
        "FILE: [upstreams.a] key_env: 123: must name an environment variable",
        "FILE: [upstreams.b] api: 'gemni': must be one of anthropic, openai, gemini, bedrock, "
        "vertex",
        "FILE: [upstreams.b] base_url: 'https://x.example?y=1' has a query or fragment: "
        "/NAME/<rest>?q goes to base_url/<rest>?q",
        "FILE: [[rules]] #1 (r) deny: 'anthropic': a class must be one of external, internal; "
        'name vendors as a list, e.g. deny = ["anthropic"]',
        "FILE: [ledger] fingerprints_only: 1: must be true or false",
        "FILE: [teams.ml] budget_usd: nan is not a finite number (a budget in US dollars)",
        "FILE: [gateway] max_body_mb: inf is not a finite number",
        "FILE: [scan] max_ratio: 0: must be a whole number, 1 or more",
    ]
    result = run("--config", "c.toml", "config", "validate")
    assert result.exit_code == 2
    assert said(result).startswith("error: c.toml: [[rule]]: unknown table")
    assert "c.toml: [scan] max_ratio: 0" in said(result)


@pytest.mark.parametrize(
    ("budget", "problem"),
    [
        ("nan", "nan is not a finite number"),
        ("inf", "inf is not a finite number"),
        ("-inf", "-inf is not a finite number"),
        ("-0.5", "-0.5: must be 0 or more"),
        ('"100"', "'100' is not a finite number"),
        ("true", "True is not a finite number"),
    ],
)
def test_budgets_are_finite_and_not_negative(tmp_path: Path, budget: str, problem: str) -> None:
    """Before: ``budget_usd = nan`` passed and meant no limit at all."""
    assert problems(
        tmp_path, f"[teams.ml]\nbudget_usd = {budget}\nkey_budget_usd = {budget}\n"
    ) == [
        f"FILE: [teams.ml] budget_usd: {problem} (a budget in US dollars)",
        f"FILE: [teams.ml] key_budget_usd: {problem} (a budget in US dollars)",
    ]


@pytest.mark.parametrize(
    ("api", "url", "problem"),
    [
        ("openai", '"http://"', "'http://' has no host (or a bad port)"),
        ("openai", '"https://:443"', "'https://:443' has no host (or a bad port)"),
        ("openai", '"https://x.example:99999"',
         "'https://x.example:99999' has no host (or a bad port)"),
        ("openai", '"ftp://x.example"', "'ftp://x.example' is not an http(s) URL"),
        ("openai", '"https://x .example"', "'https://x .example' is not an http(s) URL"),
        ("openai", '"api.openai.com"', "'api.openai.com' is not an http(s) URL"),
        ("openai", "3", "must be an http(s) URL, the vendor's origin, e.g. https://api.openai.com"),
        ("anthropic", '"https://x.example/#top"',
         "'https://x.example/#top' has a query or fragment: /NAME/<rest>?q goes to "
         "base_url/<rest>?q"),
        ("openai", '"https://api.openai.com/v1"',
         "'https://api.openai.com/v1' ends in the API version: give the origin (clients send "
         "/NAME/v1/..., which goes to base_url/v1/...)"),
        ("gemini", '"https://g.example/v1beta/"',
         "'https://g.example/v1beta/' ends in the API version: give the origin (clients send "
         "/NAME/v1beta/..., which goes to base_url/v1beta/...)"),
        ("bedrock", '"https://b.example/prefix"',
         "'https://b.example/prefix' has a path: bedrock requests are signed for the service "
         "origin"),
    ],
)  # fmt: skip
def test_a_base_url_the_gateway_cannot_use_is_an_error(
    tmp_path: Path, api: str, url: str, problem: str
) -> None:
    """Before: ``base_url = "http://"`` passed validate and crashed serve."""
    region = 'region = "us-east-1"\n' if api == "bedrock" else ""
    text = f'[upstreams.x]\napi = "{api}"\nbase_url = {url}\n{region}'
    assert problems(tmp_path, text) == [f"FILE: [upstreams.x] base_url: {problem}"]


def test_a_base_url_may_have_a_path_prefix_and_user_info(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[upstreams.internal]\napi = "openai"\nbase_url = "http://u:pw@llm.internal:8000/serve/"\n'
    )
    upstream = load_settings(tmp_path / "c.toml", {}).upstreams["internal"]
    assert upstream == Upstream(
        "internal", "openai", "http://u:pw@llm.internal:8000/serve", None, "internal"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('key_env = 123\n', "[upstreams.x] key_env: 123: must name an environment variable"),
        ('key_env = "MY KEY"\n',
         "[upstreams.x] key_env: 'MY KEY': must name an environment variable"),
        ('vendor = ""\n', "[upstreams.x] vendor: '' is not a vendor name (letters, digits, '.', "
         "'_' and '-', starting with a letter or digit)"),
        ('pass_through = "/v1/files"\n',
         '[upstreams.x] pass_through: must be a list of path globs, e.g. ["/v1/files"]'),
        ('pass_through = ["v1/files"]\n',
         '[upstreams.x] pass_through: must be a list of path globs, e.g. ["/v1/files"]'),
        ('region = "us-east-1"\n',
         "[upstreams.x] region: only for api = bedrock or vertex, not openai"),
        ('project = "p"\n', "[upstreams.x] project: only for api = vertex, not openai"),
        ('aws_profile = "p"\n', "[upstreams.x] aws_profile: only for api = bedrock, not openai"),
    ],
)  # fmt: skip
def test_upstream_values_are_checked(tmp_path: Path, text: str, line: str) -> None:
    base = '[upstreams.x]\napi = "openai"\nbase_url = "https://x.example"\n'
    assert problems(tmp_path, base + text) == [f"FILE: {line}"]


@pytest.mark.parametrize("name", ["healthz", "metrics", "ui", "a b", "-x"])
def test_an_upstream_needs_a_name_it_can_be_served_at(tmp_path: Path, name: str) -> None:
    text = f'[upstreams."{name}"]\napi = "openai"\nbase_url = "https://x.example"\n'
    assert problems(tmp_path, text) == [
        f"FILE: [upstreams.{name}]: {name!r} cannot be served at /{name}/: a name has letters, "
        "digits, '.', '_' and '-', starting with a letter or digit, and is none of healthz, "
        "metrics, ui"
    ]


def test_signing_upstreams_parse_with_their_fields(tmp_path: Path) -> None:
    (tmp_path / "sa.json").write_text("{}")
    (tmp_path / "c.toml").write_text(
        '[upstreams.bedrock]\napi = "bedrock"\nregion = "us-east-1"\naws_profile = "ml"\n'
        'vendor = "anthropic"\npass_through = ["/model/*/count-tokens"]\n'
        '[upstreams.vertex]\napi = "vertex"\nregion = "us-east5"\nproject = "acme-ml"\n'
        'credentials_file = "sa.json"\nvendor = "anthropic"\n'
        '[upstreams.vglobal]\napi = "vertex"\nregion = "global"\nproject = "acme-ml"\n'
        'base_url = "https://vertex.proxy.example"\n'
    )
    ups = load_settings(tmp_path / "c.toml", {}).upstreams
    assert ups["bedrock"] == Upstream(
        "bedrock", "bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com", None,
        "anthropic", ("/model/*/count-tokens",), region="us-east-1", aws_profile="ml",
    )  # fmt: skip
    assert ups["vertex"] == Upstream(
        "vertex", "vertex", "https://us-east5-aiplatform.googleapis.com", None, "anthropic",
        region="us-east5", project="acme-ml", credentials_file=str(tmp_path / "sa.json"),
    )  # fmt: skip
    assert ups["vglobal"].base_url == "https://vertex.proxy.example"


def test_signing_upstreams_need_their_fields_and_no_vendor_key(tmp_path: Path) -> None:
    text = (
        '[upstreams.b]\napi = "bedrock"\nkey_env = "AWS_KEY"\nproject = "p"\n'
        '[upstreams.v]\napi = "vertex"\nregion = "US East"\ncredentials_file = "missing.json"\n'
    )
    assert problems(tmp_path, text) == [
        "FILE: [upstreams.b] project: only for api = vertex, not bedrock",
        "FILE: [upstreams.b] key_env: bedrock upstreams sign their requests with cloud "
        "credentials, not a vendor key: remove key_env",
        "FILE: [upstreams.b] region: missing: api = bedrock needs region",
        "FILE: [upstreams.v] region: 'US East' is not a region, e.g. us-east-1, us-east5",
        "FILE: [upstreams.v] project: missing: api = vertex needs region and project",
        f"FILE: [upstreams.v] credentials_file: no file at {tmp_path / 'missing.json'}",
    ]


def test_vendor_names_and_classes_are_checked(tmp_path: Path) -> None:
    text = (
        '[vendors."meta code"]\nclass = "internal"\n'
        '[[rules]]\nid = "r"\npaths = ["x/**"]\ndeny = ["open ai"]\n'
        '[teams.ml]\nvendors = "anthropic"\n'
    )
    rule = "letters, digits, '.', '_' and '-', starting with a letter or digit"
    assert problems(tmp_path, text) == [
        f"FILE: [vendors.meta code]: 'meta code' is not a vendor name ({rule})",
        f"FILE: [[rules]] #1 (r) deny: 'open ai': not a vendor name ({rule})",
        "FILE: [teams.ml] vendors: must be a list of vendor names",
    ]


def test_unknown_vendor_names_are_warnings(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A vendor that no upstream, price table or [vendors] table names is likely a typo: said,
    exit 0. The packaged price table's vendors (google) and the config's own count as known."""
    (tmp_path / "prices.toml").write_text('version = "mine"\n[acme."a-1"]\ninput = 1\noutput = 2\n')
    (tmp_path / "c.toml").write_text(
        '[vendors.metacode]\nclass = "internal"\n'
        '[upstreams.anthropic]\napi = "anthropic"\nbase_url = "https://api.anthropic.com"\n'
        '[teams.ml]\nvendors = ["anthropc", "metacode", "google", "acme"]\n'
        '[[rules]]\nid = "r"\npaths = ["x/**"]\ndeny = ["openai", "metacod"]\n'
        '[gateway]\nprices = "prices.toml"\n'
    )
    result = run("--config", "c.toml", "config", "validate")
    assert result.exit_code == 0, result.output
    assert said(result).count("warning:") == 2
    assert (
        "warning: c.toml: [teams.ml] vendors: 'anthropc' is a vendor that no upstream, price "
        "table or [vendors] table names (did you mean anthropic?)"
    ) in said(result)
    assert "warning: c.toml: [[rules]] #1 (r) deny: 'metacod' is a vendor" in said(result)
    assert "(did you mean metacode?)" in said(result)
    assert "ok: c.toml (2 warning(s))" in said(result)


def test_a_bad_price_table_fails_validate_and_serve(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: validate only checked that the file existed; serve failed on it."""
    (tmp_path / "prices.toml").write_text('version = "mine"\n[acme."a-1"]\ninput = -1\n')
    (tmp_path / "c.toml").write_text('[gateway]\nprices = "prices.toml"\n')
    result = run("--config", "c.toml", "config", "validate")
    assert result.exit_code == 2
    assert said(result).startswith("error: c.toml: [gateway] prices: ")
    assert "input must be a non-negative number" in said(result)
    served = run("--config", "c.toml", "serve", "--port", "1")
    assert served.exit_code == 2 and "input must be a non-negative number" in said(served)


def test_a_good_file_validates(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "c.toml").write_text('[vendors.metacode]\nclass = "internal"\n')
    result = run("--config", "c.toml", "config", "validate")
    assert result.exit_code == 0 and said(result) == "ok: c.toml vendor metacode: internal"


def test_scan_limits_and_their_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.toml").write_text('[scan]\nmax_document_bytes = "16 MiB"\nmax_ratio = 50\n')
    assert load_settings(tmp_path / "ok.toml", {}).scan_limits == ScanLimits(16 << 20, 50)
    assert load_settings(None, {"DISTILLGUARD_HOME": str(tmp_path)}).scan_limits == ScanLimits(
        DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_RATIO
    )
    text = '[scan]\nmax_document_bytes = "huge"\nmax_ratio = 0\nmax_ratoi = 3\n'
    assert problems(tmp_path, text) == [
        "FILE: [scan] max_ratoi: unknown key (did you mean max_ratio?)",
        "FILE: [scan] max_document_bytes: 'huge' is not a size (bytes, or a number with B, KB, "
        "MiB, GiB...)",
        "FILE: [scan] max_ratio: 0: must be a whole number, 1 or more",
    ]
    result = run("--config", "c.toml", "config", "validate")
    assert result.exit_code == 2 and "(did you mean max_ratio?)" in said(result)


@pytest.mark.parametrize(
    ("value", "size"),
    [(5, 5), ("5", 5), ("64MiB", 64 << 20), ("2 GiB", 2 << 30), ("1kb", 1000), ("3 B", 3)],
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "", "x", "5 parsecs", "-3MiB", "0 GiB"])
def test_not_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_size(value)
