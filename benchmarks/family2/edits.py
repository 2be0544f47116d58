"""The edits a copy goes through before it lands in a dataset, for any of family 2's languages.

Each edit returns the edited text, or None when it does not apply to this text (no declared
name to rename, no comment, not SQL...) or would leave it unchanged; labels are decided here,
before anything is scanned.
"""

from __future__ import annotations

import ast
import io
import random
import re
import textwrap
import tokenize
from dataclasses import dataclass, field

from . import lex
from .sources import sentences
from .units import CREATE as _CREATED

CODE_EDITS = ("verbatim", "renamed", "reformatted", "sql_case", "comments", "lines_edited")
PROSE_EDITS = ("verbatim", "reformatted", "lines_edited")

_WORDS = """
alpha amber anchor apex arc atlas badge basin beacon birch blade bloom bolt bridge brook
cable canyon carbon cedar chalk chart cinder cliff cloud cobalt comet coral crest crown delta
depot drift dune echo ember field flint forge frame frost gale garnet glade globe granite grove
harbor hazel helix hollow ivory jade kernel lagoon lantern ledger lever linen lotus lumen maple
marble meadow mesa mint mirror nectar needle nova oak onyx orbit otter paddle pebble pepper
pilot pine plume prism pulse quarry quartz raven reef ridge river rocket saffron sage shard
signal slate spark spire spruce summit tango thistle timber topaz torch tundra vale vapor
velvet vertex willow zephyr zinc
"""
WORDS = _WORDS.split()


@dataclass
class Pools:
    """Real material from host files that edits insert: lines, comments, sentences."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)


def apply(edit: str, text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    if lang == "prose":
        fn = {"verbatim": _same, "reformatted": rewrap, "lines_edited": prose_lines}.get(edit)
    else:
        fn = {
            "verbatim": _same,
            "renamed": rename,
            "reformatted": reformat,
            "sql_case": sql_case,
            "comments": comments,
            "lines_edited": code_lines,
        }.get(edit)
    if fn is None:
        return None
    out = fn(text, lang, rng, pools)
    if out is None or (edit != "verbatim" and out == text):
        return None
    return out


def _same(text: str, lang: str, rng: random.Random, pools: Pools) -> str:
    return text


# ---------------------------------------------------------------- renaming

_DECL = {
    "javascript": [
        r"\bfunction\s*\*?\s*([\w$]+)",
        r"\b(?:const|let|var)\s+([\w$]+)",
        r"\bcatch\s*\(\s*([\w$]+)",
        r"\b([\w$]+)\s*=>",
    ],
    "bash": [
        r"^\s*(?:function\s+)?([A-Za-z_][\w]*)\s*\(\s*\)",
        r"\blocal\s+(?:-\w+\s+)*([A-Za-z_]\w*)",
        r"^\s*([a-z_]\w*)=",
        r"\bfor\s+([A-Za-z_]\w*)\s+in\b",
        r"\bread\s+(?:-\w+\s+)*([A-Za-z_]\w*)",
    ],
    "perl": [r"\bsub\s+(\w+)", r"\bmy\s*[$@%](\w+)"],
    "sql": [
        r"\b(?:FROM|JOIN)\s+[\w.]+\s+(?:AS\s+)?([a-z_]\w*)",
        r"\bAS\s+([a-z_]\w*)\s*(?:,|$|\bFROM\b)",
    ],
}
_PARAMS = {
    "javascript": r"\bfunction\s*\*?\s*[\w$]*\s*\(([^)]*)\)|\(([^()]*)\)\s*=>",
    "perl": r"\bmy\s*\(([^)]*)\)",
}


def declared(text: str, lang: str) -> list[str]:
    """Names this snippet defines (functions, parameters, locals, aliases), in first-seen order."""
    names: list[str] = []
    if lang == "python":
        names = _python_declared(text)
    for pattern in _DECL.get(lang, []):
        names += re.findall(pattern, text, re.M | (re.I if lang == "sql" else 0))
    if lang in _PARAMS:
        for groups in re.findall(_PARAMS[lang], text):
            for g in groups if isinstance(groups, tuple) else [groups]:
                names += re.findall(r"[$@%]?([A-Za-z_$][\w$]*)\s*(?:=[^,]*)?(?:,|$)", g)
    if lang == "sql":
        names += _sql_declared(text)
        created = _CREATED.search(text)
        if created:
            names.insert(0, created.group(1).strip('"`').split(".")[-1])
    banned = lex.KEYWORDS.get(lang, frozenset())
    out = []
    for n in dict.fromkeys(names):
        if not n or n == "_" or n.lower() in banned or n in banned or n.startswith("__"):
            continue
        if lang != "bash" or not n.isupper():
            out.append(n)
    return out


def _python_declared(text: str) -> list[str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return re.findall(r"\bdef\s+(\w+)", text)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None and arg.arg not in ("self", "cls"):
                    names.append(arg.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.append(node.name)
    return names


def _sql_declared(text: str) -> list[str]:
    out = []
    m = re.search(r"\bFUNCTION\s+[\w.]+\s*\(([^)]*)\)", text, re.I)
    if m:
        for arg in m.group(1).split(","):
            words = arg.split()
            if words and words[0].upper() in ("IN", "OUT", "INOUT", "VARIADIC"):
                words = words[1:]
            if len(words) >= 2 and re.fullmatch(r"[a-z_]\w*", words[0]):
                out.append(words[0])
    return out


def _new_name(old: str, rng: random.Random, taken: set[str]) -> str:
    core = old.lstrip("_$")
    prefix = old[: len(old) - len(core)]
    for _ in range(100):
        words = rng.sample(WORDS, rng.choice([1, 2]))
        if core.isupper():
            name = "_".join(words).upper()
        elif "_" in core or core.islower():
            name = "_".join(words)
        elif core[:1].isupper():
            name = "".join(w.title() for w in words)
        else:
            name = words[0] + "".join(w.title() for w in words[1:])
        if prefix + name not in taken:
            taken.add(prefix + name)
            return prefix + name
    return old + "_x"


_BEFORE = {"python": "\\w.", "javascript": "\\w.$", "perl": "\\w>:", "bash": "\\w-", "sql": "\\w."}


def rename(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    names = declared(text, lang)
    if not names or lang not in _BEFORE:
        return None
    taken = set(re.findall(r"[\w$]+", text))
    mapping = {n: _new_name(n, rng, taken) for n in names}
    if lang == "python":
        return _rename_python(text, mapping)
    if lang == "sql":
        mapping = {k.lower(): v for k, v in mapping.items()}
    alternatives = "|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True))
    flags = re.I if lang == "sql" else 0
    pattern = re.compile(rf"(?<![{_BEFORE[lang]}])(?:{alternatives})(?![\w$])", flags)

    def sub(m: re.Match) -> str:
        s, a, b = m.string, m.start(), m.end()
        after = s[b:].lstrip(" ")
        if lang == "javascript" and after.startswith(":") and not after.startswith("::"):
            return m.group()  # an object key
        if lang == "python" and after.startswith("=") and not after.startswith("=="):
            before = s[:a].rstrip()
            if before.endswith(("(", ",")) and "def " not in s[s.rfind("\n", 0, a) + 1 : a]:
                return m.group()  # a keyword argument of some other function
        return mapping[m.group().lower() if lang == "sql" else m.group()]

    return lex.map_code(text, lang, lambda t: pattern.sub(sub, t), strings=lang in ("bash", "perl"))


def _rename_python(text: str, mapping: dict[str, str]) -> str | None:
    """Rename NAME tokens, except attributes (after ``.``) and keyword arguments of calls."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    stack: list[bool] = []  # per open bracket: is it the parameter list of a def?
    edits: list[tuple[int, int, str]] = []
    prev = prev2 = None
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
            stack.append(
                tok.string == "("
                and prev is not None
                and prev2 is not None
                and prev2.string == "def"
            )
        elif tok.type == tokenize.OP and tok.string in (")", "]", "}") and stack:
            stack.pop()
        elif tok.type == tokenize.NAME and tok.string in mapping:
            after = tokens[i + 1].string if i + 1 < len(tokens) else ""
            kwarg = (
                after == "="
                and bool(stack)
                and not stack[-1]
                and prev is not None
                and prev.string in ("(", ",")
            )
            if (prev is None or prev.string != ".") and not kwarg:
                (row, col), (_, end) = tok.start, tok.end
                start = offsets[row - 1] + col
                edits.append((start, offsets[row - 1] + end, mapping[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            prev2, prev = prev, tok
    out = text
    for a, b, new in reversed(edits):
        out = out[:a] + new + out[b:]
    return out


# ---------------------------------------------------------------- reformatting


def reindent(text: str, lang: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if any(line.startswith("\t") for line in lines):
        return "\n".join(re.sub(r"^\t+", lambda m: "    " * len(m.group()), ln) for ln in lines)
    leads = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()]
    unit = min([x for x in leads if x > 0], default=0)
    if unit == 0:
        return text
    new = 2 if unit >= 4 else 4
    if lang == "yaml":
        return "\n".join(_yaml_indent(ln, unit) for ln in lines)
    if rng.random() < 0.25:
        return "\n".join(
            re.sub(r"^ +", lambda m: "\t" * (len(m.group()) // unit), ln) for ln in lines
        )

    def fix(line: str) -> str:
        lead = len(line) - len(line.lstrip(" "))
        return " " * ((lead // unit) * new + lead % unit) + line[lead:]

    return "\n".join(fix(ln) for ln in lines)


def _yaml_indent(line: str, unit: int) -> str:
    """Twice the indentation; a list item's dash gets three spaces so its keys stay aligned."""
    m = re.match(r"^( *)(- )?(.*)$", line)
    assert m is not None
    lead, dash, rest = m.groups()
    return " " * (2 * len(lead)) + ("-   " if dash else "") + rest if line.strip() else line


def _code_mask(text: str, lang: str) -> list[bool]:
    mask: list[bool] = []
    for kind, t in lex.segments(text, lang):
        mask += [kind == "code"] * len(t)
    return mask


def wrap(text: str, lang: str, rng: random.Random) -> str:
    """Break long lines: after commas inside brackets, or with a backslash (shell)."""
    mask = _code_mask(text, lang)
    lines, out, pos = text.split("\n"), [], 0
    budget = rng.randint(1, 3)
    for line in lines:
        start, pos = pos, pos + len(line) + 1
        indent = line[: len(line) - len(line.lstrip())]
        cuts = []
        if len(line) >= 45 and budget > 0:
            if lang == "bash":
                spaces = [i for i, c in enumerate(line) if c == " " and i > len(indent) + 10]
                spaces = [i for i in spaces if mask[start + i] and not line.rstrip().endswith("\\")]
                cuts = spaces[len(spaces) // 2 : len(spaces) // 2 + 1]
            else:
                depth = 0
                for i, c in enumerate(line):
                    if not mask[start + i]:
                        continue
                    depth += c in "([{"
                    depth -= c in ")]}"
                    if c == "," and depth > 0 and line[i + 1 : i + 2] == " ":
                        cuts.append(i + 1)
                cuts = cuts[:2]
        if not cuts:
            out.append(line)
            continue
        budget -= 1
        pieces, prev = [], 0
        for c in cuts:
            pieces.append(line[prev:c].rstrip() + (" \\" if lang == "bash" else ""))
            prev = c
        pieces.append(indent + "    " + line[prev:].lstrip())
        out.append(pieces[0])
        out += [indent + "    " + p.lstrip() for p in pieces[1:-1]] + [pieces[-1]]
    return "\n".join(out)


def blank_lines(text: str, lang: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if any(not ln.strip() for ln in lines) and rng.random() < 0.6:
        return "\n".join(ln for ln in lines if ln.strip())
    spots = set(rng.sample(range(1, len(lines)), min(3, len(lines) - 1)))
    out = []
    for i, ln in enumerate(lines):
        out.append(ln)
        if i in spots and ln.strip():
            out.append("")
    return "\n".join(out)


def braces(text: str, lang: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if sum(ln.strip() == "{" for ln in lines) >= 1:  # Allman -> K&R
        out: list[str] = []
        for ln in lines:
            if ln.strip() == "{" and out:
                out[-1] = out[-1].rstrip() + " {"
            else:
                out.append(ln)
        return "\n".join(out)
    out = []
    for ln in lines:
        body = ln.rstrip()
        if (
            body.endswith(" {")
            and body.strip() != "{"
            and not body.lstrip().startswith(("//", "#"))
        ):
            indent = ln[: len(ln) - len(ln.lstrip())]
            out += [body[:-2].rstrip(), indent + "{"]
        else:
            out.append(ln)
    return "\n".join(out)


_SQL_BREAK = re.compile(
    r"\s+(?=\b(?:FROM|WHERE|GROUP BY|ORDER BY|HAVING|UNION|RETURNS|LANGUAGE|LEFT JOIN|JOIN|SELECT"
    r"|AND|OR|CASE|WHEN|ELSE|END|BEGIN)\b)",
    re.I,
)


def sql_layout(text: str, lang: str, rng: random.Random) -> str:
    """Collapse the statement's layout and break it before clause keywords, as a formatter."""
    out = []
    for kind, t in lex.segments(text, "sql"):
        if kind == "code":
            t = _SQL_BREAK.sub("\n  ", re.sub(r"\s+", " ", t))
        elif kind == "com" and t.startswith("--"):
            t = t + "\n"
        out.append(t)
    joined = "".join(out)
    return "\n".join(ln.rstrip() for ln in joined.split("\n") if ln.strip())


_REFORMATS = {
    "python": (reindent, wrap, blank_lines),
    "javascript": (reindent, wrap, blank_lines, braces),
    "perl": (reindent, wrap, blank_lines, braces),
    "bash": (reindent, wrap, blank_lines),
    "yaml": (reindent, blank_lines),
    "sql": (sql_layout, reindent, wrap),
}


def reformat(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    ops = list(_REFORMATS[lang])
    rng.shuffle(ops)
    out = text
    for op in ops[:2]:
        out = op(out, lang, rng)
    return out if out != text else None


def rewrap(text: str, lang: str, rng: random.Random, pools: Pools) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    if "\n" in text and rng.random() < 0.5:
        return flat
    return textwrap.fill(flat, width=rng.choice([50, 60, 66, 72, 88, 100]))


# ---------------------------------------------------------------- SQL case, comments, lines


def sql_case(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    if lang != "sql":
        return None
    words = [w for w in re.findall(r"[A-Za-z_]+", text) if w.lower() in lex.SQL_KEYWORDS]
    upper = sum(w.isupper() for w in words)
    to_upper = upper < len(words) / 2

    def flip(code: str) -> str:
        return re.sub(
            r"\b[A-Za-z_]+\b",
            lambda m: (
                (m.group().upper() if to_upper else m.group().lower())
                if m.group().lower() in lex.SQL_KEYWORDS
                else m.group()
            ),
            code,
        )

    return lex.map_code(text, "sql", flip) if len(words) >= 3 else None


def comments(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    found = lex.comment_texts(text, lang)
    if not found or (lang == "perl" and all(c.startswith("=") for c in found)):
        return None
    pool = pools.comments.get(lang, [])
    if rng.random() < 0.5 or not pool:
        return lex.strip_comments(text, lang)
    mark = lex.COMMENT_MARK[lang]
    out = []
    for kind, t in lex.segments(text, lang):
        if kind == "com" and not t.startswith("="):
            t = f"/* {rng.choice(pool)} */" if t.startswith("/*") else f"{mark} {rng.choice(pool)}"
        out.append(t)
    return "".join(out)


def code_lines(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    lines = text.split("\n")
    body = [i for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    pool = pools.lines.get(lang, [])
    if len(body) < 6 or not pool:
        return None
    drop = set(rng.sample(body, rng.randint(1, min(3, len(body) // 4))))
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(1, len(kept))
        near = kept[at] if at < len(kept) else kept[at - 1]
        indent = near[: len(near) - len(near.lstrip())]
        kept.insert(at, indent + rng.choice(pool))
    return "\n".join(kept)


def prose_lines(text: str, lang: str, rng: random.Random, pools: Pools) -> str | None:
    sents = sentences(re.sub(r"\s+", " ", text).strip())
    if len(sents) < 3 or not pools.sentences:
        return None
    del sents[rng.randrange(len(sents))]
    for _ in range(rng.randint(1, 2)):
        sents.insert(rng.randint(0, len(sents)), rng.choice(pools.sentences))
    return " ".join(sents)
