"""A small lexer for family 2's languages: splits text into code, string and comment runs.

Edits use it to rename identifiers or change SQL keyword case in code only, and to find and
replace comments. It is approximate (no regex literals, no heredocs), as an editor's would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGS = ("python", "javascript", "sql", "bash", "perl", "yaml")
FENCE = {
    "python": "python",
    "javascript": "js",
    "sql": "sql",
    "bash": "bash",
    "perl": "perl",
    "yaml": "yaml",
    "dockerfile": "dockerfile",
}
EXT = {
    "python": ".py",
    "javascript": ".js",
    "sql": ".sql",
    "bash": ".sh",
    "perl": ".pl",
    "yaml": ".yaml",
}
COMMENT_MARK = {
    "python": "#",
    "javascript": "//",
    "sql": "--",
    "bash": "#",
    "perl": "#",
    "yaml": "#",
}


@dataclass(frozen=True)
class Spec:
    line_comments: tuple[str, ...]
    block_comments: tuple[tuple[str, str], ...]
    strings: tuple[str, ...]  # opening == closing delimiter, longest first
    multiline: tuple[str, ...]  # delimiters whose strings may span lines
    comment_at_word_start: bool  # '#' opens a comment only after whitespace or at a line start
    quote_after_separator: bool  # yaml: a quote opens a string only after a separator


SPECS = {
    "python": Spec(("#",), (), ('"""', "'''", '"', "'"), ('"""', "'''"), False, False),
    "javascript": Spec(("//",), (("/*", "*/"),), ("`", '"', "'"), ("`",), False, False),
    "sql": Spec(("--",), (("/*", "*/"),), ("'", '"'), ("'", '"'), False, False),
    "bash": Spec(("#",), (), ("'", '"'), ("'", '"'), True, False),
    "perl": Spec(("#",), (), ("'", '"'), ("'", '"'), True, False),
    "yaml": Spec(("#",), (), ("'", '"'), (), True, True),
}
_OPENERS = {
    lang: re.compile(
        "|".join(
            re.escape(x)
            for x in sorted(
                {*s.line_comments, *(a for a, _ in s.block_comments), *s.strings},
                key=len,
                reverse=True,
            )
        )
        + ("|^=[A-Za-z]" if lang == "perl" else ""),
        re.M,
    )
    for lang, s in SPECS.items()
}
_POD_END = re.compile(r"^=cut\b.*$", re.M)

Segment = tuple[str, str]  # (kind, text): kind is code | str | com


def segments(text: str, lang: str) -> list[Segment]:
    """Split ``text`` into runs of code, string literals and comments (concatenation == text)."""
    spec, opener = SPECS[lang], _OPENERS[lang]
    out: list[Segment] = []
    start = i = 0
    n = len(text)
    while i < n:
        m = opener.search(text, i)
        if m is None:
            break
        a, tok = m.start(), m.group()
        word_start = a == 0 or text[a - 1] in " \t\n"
        end = None
        kind = "com"
        if tok.startswith("=") and lang == "perl":
            pod = _POD_END.search(text, a)
            end = pod.end() if pod else n
        elif tok in spec.line_comments:
            if word_start or not spec.comment_at_word_start:
                nl = text.find("\n", a)
                end = n if nl < 0 else nl
        elif any(tok == o for o, _ in spec.block_comments):
            close = dict(spec.block_comments)[tok]
            j = text.find(close, a + len(tok))
            end = n if j < 0 else j + len(close)
        elif not spec.quote_after_separator or a == 0 or text[a - 1] in " \t\n:[{,-":
            kind, end = "str", _string_end(text, a, tok, lang, spec)
        if end is None:
            i = a + 1
            continue
        if a > start:
            out.append(("code", text[start:a]))
        out.append((kind, text[a:end]))
        start = i = end
    if start < n:
        out.append(("code", text[start:]))
    return out


def _string_end(text: str, a: int, delim: str, lang: str, spec: Spec) -> int:
    escapes = not (lang == "bash" and delim == "'")
    k, n = a + len(delim), len(text)
    while k < n:
        c = text[k]
        if c == "\\" and escapes:
            k += 2
            continue
        if text.startswith(delim, k):
            return k + len(delim)
        if c == "\n" and delim not in spec.multiline:
            return k
        k += 1
    return n


def comment_texts(text: str, lang: str) -> list[str]:
    """The comments of ``text`` (line comments and block comments), as written."""
    return [t for kind, t in segments(text, lang) if kind == "com"]


def map_code(text: str, lang: str, fn, strings: bool = False) -> str:
    """Apply ``fn`` to the code runs (and double-quoted strings when ``strings``)."""
    out = []
    for kind, t in segments(text, lang):
        if kind == "code" or (strings and kind == "str" and t.startswith('"')):
            out.append(fn(t))
        else:
            out.append(t)
    return "".join(out)


def strip_comments(text: str, lang: str) -> str:
    """``text`` without its comments; lines left empty by that are removed."""
    marker = "\x00"
    kept = "".join(marker if k == "com" else t for k, t in segments(text, lang))
    lines = []
    for line in kept.split("\n"):
        if marker in line:
            line = line.replace(marker, "").rstrip()
            if not line.strip():
                continue
        lines.append(line)
    return "\n".join(lines)


_SQL_WORDS = """
select from where and or not in is null as on join left right inner outer full cross using
group by order having limit offset union all distinct case when then else end create replace
function returns return language table view index insert into values update set delete
grant revoke to public begin commit declare if exists drop alter add column primary key
references default constraint check unique cascade restrict type aggregate operator
returns setof immutable stable volatile strict parallel safe unsafe restricted cost rows
security definer invoker trigger before after for each row execute procedure schema
sequence with recursive natural like ilike between exists any some cast true false
collate nulls first last asc desc over partition window filter lateral only do loop
while raise notice exception perform elsif returning conflict nothing comment
deterministic sql reads modifies data contains no called input leftarg rightarg
procedure handler inline validator extension owner temporary temp unlogged
"""
_PYTHON_WORDS = """
False None True and as assert async await break class continue def del elif else
except finally for from global if import in is lambda nonlocal not or pass raise
return try while with yield self cls print len range str int float list dict set
tuple bool type object super isinstance getattr setattr hasattr open sorted
enumerate zip map filter any all min max sum iter next repr id hash format
Exception ValueError TypeError KeyError OSError IOError RuntimeError args kwargs
__init__ __name__ __main__ __class__ __dict__ staticmethod classmethod property
"""
_JS_WORDS = """
break case catch class const continue debugger default delete do else export
extends finally for function if import in instanceof let new return super switch
this throw try typeof var void while with yield async await of null undefined true
false require module exports console Object Array String Number Boolean Promise
Error JSON Math Date RegExp Map Set Symbol process Buffer arguments constructor
get static prototype length
"""
_BASH_WORDS = """
if then else elif fi case esac for while until do done in function select time
return local export readonly declare typeset unset shift exit echo printf read
eval exec set test true false cd source COMPREPLY IFS PATH HOME
"""
_PERL_WORDS = """
my our local sub if elsif else unless while until for foreach do last next redo
return use no require package print printf die warn eval ref bless shift push pop
unshift splice keys values each exists delete defined scalar wantarray undef
self class _ a b ARGV ENV STDIN STDOUT STDERR __PACKAGE__ qw q qq
"""
SQL_KEYWORDS = frozenset(_SQL_WORDS.split())
# names a rename leaves alone: keywords, builtins, conventional receivers
KEYWORDS = {
    "python": frozenset(_PYTHON_WORDS.split()),
    "javascript": frozenset(_JS_WORDS.split()),
    "bash": frozenset(_BASH_WORDS.split()),
    "perl": frozenset(_PERL_WORDS.split()),
    "sql": SQL_KEYWORDS,
    "yaml": frozenset(),
}
