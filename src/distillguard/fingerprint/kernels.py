"""Numba kernels: tokenize, hash k-grams and winnow a whole batch of documents at once.

A batch is one ``uint8`` buffer holding the UTF-8 bytes of many documents back to back, with
``starts[d]:starts[d + 1]`` the bytes of document ``d``. Fingerprints never cross documents.
Each kernel returns parallel arrays: ``hash`` (uint64), ``doc`` (int64), and the byte span
``[start, end)`` of the k-gram that produced the fingerprint.

Code channel (language-agnostic, edit-tolerant):
- whitespace, comments (``#``, ``-- `` and ``<!-- -->``, and in brace languages ``//`` and
  ``/* */``), ``,`` ``;`` ``\\`` are dropped, so reformatting and changed comments do not
  matter (``-- `` and ``<!-- -->`` since fingerprint version 6: SQL, Lua, Haskell, HTML);
- a one-line string literal is one token made of its contents (``'a'`` and ``"a"`` are the same
  token), so quoting does not matter but the text of messages, keys and names does: two
  functions stamped from one template with other strings share few k-grams; triple-quoted
  strings (docstrings) and template strings are one STR token whatever they hold, so changed
  docstrings do not matter (``literal_strings`` off, fingerprint versions < 5: every string is
  STR);
- keywords, well-known builtins and names after a ``.`` (attributes, methods: API surface that
  renaming locals leaves alone) keep their names; an all-capitals word whose lower case is a
  keyword is that keyword (since version 6: case-insensitive languages write keywords in
  capitals), so ``SELECT ... AND x IS NULL`` and ``select ... and x is null`` are the same
  tokens (the words that are no keyword, like ``SELECT``, are renamed consistently); every
  other identifier becomes ID, tagged with the distance to its previous use *inside the
  k-gram*, so consistent renaming does not matter but data flow still does;
- a k-gram that mostly repeats a pattern of up to three tokens (a table of strings, a list of
  names) is no evidence and never becomes a fingerprint.
Text channel: words (letters, digits, ``_``, marks), NFKC-normalized and lowercased through a
table of every BMP character; punctuation, symbols and whitespace are separators. Spans stay
byte offsets into the original text, whatever the folding did to lengths.
"""

# Numba kernels return numpy scalars where the annotations say bool/uint64.
# mypy: disable-error-code="return-value, no-any-return"
from __future__ import annotations

import numba as nb
import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
KGRAM_PRIME = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
ID_NEW = np.uint64(0x1D0001)
ID_REF = np.uint64(0x1D1000)
STR_TOKEN = np.uint64(0x57A1)
NUM_SALT = np.uint64(0x4E554D0000000000)
# A one-line string's token: the salt in the top 24 bits, a hash of its contents below.
STR_SALT = np.uint64(0x5354520000000000)
STR_BITS = np.uint64(40)
PUNCT_BASE = np.uint64(0x9000)
DOT_TOKEN = PUNCT_BASE + np.uint64(46)
ONE = np.uint64(1)
NOT_IDENT = -1
# Identifier back-references kept only up to this many tokens.
REF_CAP = 64
# The hash of a k-gram that is no evidence (see ``_mark_repetitive``); never emitted.
NO_EVIDENCE = np.uint64(0xFFFFFFFFFFFFFFFE)
# A k-gram that repeats a pattern of up to MAX_PERIOD tokens, but for at most k // 4 tokens
# (the ``x = (`` before a table), is no evidence.
MAX_PERIOD = 3
# Bytes of a document that decide whether ``//`` and ``/* */`` start comments in it.
BRACE_SAMPLE = 16384


@nb.njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    x = (x ^ (x >> np.uint64(30))) * MIX1
    x = (x ^ (x >> np.uint64(27))) * MIX2
    return x ^ (x >> np.uint64(31))


IDENT_START, IDENT_CHAR, SKIP = 1, 2, 4


def _byte_classes() -> np.ndarray:
    """What each byte is to the code tokenizer: identifier start / identifier character (ASCII
    letters, ``_``, ``$``, every non-ASCII byte; digits continue), or skipped (whitespace,
    controls, ``,`` ``;`` ``\\``). A read-only table the kernels see as a constant."""
    table = np.zeros(256, np.uint8)
    for c in range(256):
        if (97 <= c <= 122) or (65 <= c <= 90) or c == 95 or c == 36 or c >= 128:
            table[c] = IDENT_START | IDENT_CHAR
        elif 48 <= c <= 57:
            table[c] = IDENT_CHAR
        elif c <= 32 or c == 44 or c == 59 or c == 92:
            table[c] = SKIP
    table.setflags(write=False)
    return table


BYTE_CLASS = _byte_classes()


@nb.njit(cache=True, inline="always")
def _is_ident_char(c: np.uint8) -> bool:
    return (BYTE_CLASS[c] & IDENT_CHAR) != 0


@nb.njit(cache=True)
def _fnv(buf: np.ndarray, s: int, e: int, lower: bool) -> np.uint64:
    h = FNV_OFFSET
    for i in range(s, e):
        c = buf[i]
        if lower and 65 <= c <= 90:
            c += 32
        h = (h ^ np.uint64(c)) * FNV_PRIME
    return h


@nb.njit(cache=True)
def _in_table(table: np.ndarray, h: np.uint64) -> bool:
    mask = table.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    while table[slot] != 0:
        if table[slot] == h:
            return True
        slot = (slot + 1) & mask
    return False


@nb.njit(cache=True)
def _brace_language(buf: np.ndarray, s: int, e: int) -> bool:
    """True when lines end in ``{ } ;`` more often than in ``:`` (C, JS, Java, Go, Rust...),
    judged on the first ``BRACE_SAMPLE`` bytes."""
    colon = 0
    brace = 0
    last = 0
    for i in range(s, min(e, s + BRACE_SAMPLE)):
        c = buf[i]
        if c == 10:
            if last == 58:
                colon += 1
            elif last == 123 or last == 125 or last == 59:
                brace += 1
            last = 0
        elif c > 32:
            last = c
    return brace > colon


@nb.njit(cache=True)
def _skip_line(buf: np.ndarray, i: int, e: int) -> int:
    while i < e and buf[i] != 10:
        i += 1
    return i


@nb.njit(cache=True)
def _skip_block_comment(buf: np.ndarray, i: int, e: int) -> int:
    i += 2
    while i + 1 < e and not (buf[i] == 42 and buf[i + 1] == 47):
        i += 1
    return min(i + 2, e)


@nb.njit(cache=True)
def _dash_comment(buf: np.ndarray, s: int, i: int, e: int) -> bool:
    """``-- `` after a line start or a space: a SQL/Lua/Haskell line comment (``i--``,
    ``--flag`` and ``a--b`` are not)."""
    if i + 1 >= e or buf[i + 1] != 45:
        return False
    before = i == s or buf[i - 1] == 32 or buf[i - 1] == 9 or buf[i - 1] == 10
    after = i + 2 >= e or buf[i + 2] == 32 or buf[i + 2] == 9 or buf[i + 2] == 10
    return before and (after or buf[i + 2] == 13)


@nb.njit(cache=True)
def _markup_comment(buf: np.ndarray, i: int, e: int) -> bool:
    return i + 3 < e and buf[i + 1] == 33 and buf[i + 2] == 45 and buf[i + 3] == 45


@nb.njit(cache=True)
def _skip_markup_comment(buf: np.ndarray, i: int, e: int) -> int:
    i += 4
    while i + 2 < e and not (buf[i] == 45 and buf[i + 1] == 45 and buf[i + 2] == 62):
        i += 1
    return min(i + 3, e)


@nb.njit(cache=True)
def _string_end(buf: np.ndarray, i: int, e: int) -> int:
    """End (exclusive) of the string literal opening at ``i``, or -1 if it is not one."""
    q = buf[i]
    if i + 2 < e and buf[i + 1] == q and buf[i + 2] == q:
        j = i + 3
        while j + 2 < e:
            if buf[j] == 92:
                j += 2
                continue
            if buf[j] == q and buf[j + 1] == q and buf[j + 2] == q:
                return j + 3
            j += 1
        return -1
    j = i + 1
    multiline = q == 96
    while j < e:
        c = buf[j]
        if c == 92:
            j += 2
            continue
        if c == q:
            return j + 1
        if c == 10 and not multiline:
            return -1
        j += 1
    return -1


@nb.njit(cache=True, inline="always")
def _one_line_string(buf: np.ndarray, i: int, j: int) -> bool:
    """Whether the literal ``buf[i:j]`` is quoted with one ``'`` or ``"`` (not a triple-quoted
    docstring, not a template string)."""
    q = buf[i]
    if q == 96:
        return False
    return not (j - i >= 6 and buf[i + 1] == q and buf[i + 2] == q)


@nb.njit(cache=True, inline="always")
def _shape(v: np.uint64) -> np.uint64:
    """A token as the repetition check sees it: every string literal is alike."""
    return STR_TOKEN if (v >> STR_BITS) == (STR_SALT >> STR_BITS) else v


@nb.njit(cache=True)
def _is_string_prefix(buf: np.ndarray, s: int, e: int) -> bool:
    if e - s > 2:
        return False
    for i in range(s, e):
        c = buf[i] | 32
        if c != 114 and c != 98 and c != 102 and c != 117:  # r b f u
            return False
    return True


@nb.njit(cache=True)
def _code_tokens(
    buf: np.ndarray,
    s: int,
    e: int,
    keywords: np.ndarray,
    val: np.ndarray,
    ref: np.ndarray,
    nxt: np.ndarray,
    tstart: np.ndarray,
    tend: np.ndarray,
    seen_key: np.ndarray,
    seen_pos: np.ndarray,
    seen_gen: np.ndarray,
    gen: int,
    literal_strings: bool,
    v6: bool,
) -> int:
    """Tokenize one document into ``val/ref/tstart/tend`` from index 0; returns the count.

    ``v6``: all-capitals keywords, ``-- `` and ``<!-- -->`` comments (version 6).

    For an identifier, ``ref`` is the distance back to its previous use (0: none) and
    ``nxt[prev]`` points forward to it; other tokens have ``ref = -1``.
    """
    braces = _brace_language(buf, s, e)
    mask = seen_key.shape[0] - 1
    n = 0
    i = s
    while i < e:
        c = buf[i]
        kind = BYTE_CLASS[c]
        if kind & SKIP:
            i += 1
            continue
        if kind & IDENT_START:
            h = (FNV_OFFSET ^ np.uint64(c)) * FNV_PRIME
            lower = 97 <= c <= 122
            j = i + 1
            while j < e and _is_ident_char(buf[j]):
                h = (h ^ np.uint64(buf[j])) * FNV_PRIME
                lower = lower or 97 <= buf[j] <= 122
                j += 1
            if j < e and (buf[j] == 34 or buf[j] == 39) and _is_string_prefix(buf, i, j):
                i = j
                continue
            after_dot = n > 0 and val[n - 1] == DOT_TOKEN and ref[n - 1] == NOT_IDENT
            word = h
            if v6 and not after_dot and not lower and j - i > 1 and not _in_table(keywords, h):
                word = _fnv(buf, i, j, True)  # SQL's capitals: AND, NULL, IS are and, null, is
            if after_dot or _in_table(keywords, word):
                val[n] = word
                ref[n] = NOT_IDENT
            else:
                slot = np.int64(h & np.uint64(mask))
                r = 0
                if seen_gen[slot] == gen and seen_key[slot] == h:
                    r = n - seen_pos[slot]
                    nxt[seen_pos[slot]] = n
                seen_key[slot] = h
                seen_pos[slot] = n
                seen_gen[slot] = gen
                val[n] = ID_NEW
                ref[n] = r
            nxt[n] = -1
            tstart[n] = i
            tend[n] = j
            n += 1
            i = j
            continue
        if 48 <= c <= 57:
            j = i + 1
            while j < e and (_is_ident_char(buf[j]) or buf[j] == 46):
                j += 1
            val[n] = _fnv(buf, i, j, True) ^ NUM_SALT
            ref[n] = NOT_IDENT
            nxt[n] = -1
            tstart[n] = i
            tend[n] = j
            n += 1
            i = j
            continue
        if c == 35:
            i = _skip_line(buf, i, e)
            continue
        if c == 45 and v6 and _dash_comment(buf, s, i, e):
            i = _skip_line(buf, i, e)
            continue
        if c == 60 and v6 and _markup_comment(buf, i, e):
            i = _skip_markup_comment(buf, i, e)
            continue
        if c == 47 and braces and i + 1 < e and buf[i + 1] == 47:
            i = _skip_line(buf, i, e)
            continue
        if c == 47 and braces and i + 1 < e and buf[i + 1] == 42:
            i = _skip_block_comment(buf, i, e)
            continue
        if c == 96 and i + 2 < e and buf[i + 1] == 96 and buf[i + 2] == 96:
            i += 3  # a Markdown code fence is layout, not code
            continue
        if c == 34 or c == 39 or c == 96:
            j = _string_end(buf, i, e)
            if j > 0:
                val[n] = STR_TOKEN
                if literal_strings and _one_line_string(buf, i, j):
                    contents = _fnv(buf, i + 1, j - 1, False)
                    val[n] = STR_SALT | (contents >> (np.uint64(64) - STR_BITS))
                ref[n] = NOT_IDENT
                nxt[n] = -1
                tstart[n] = i
                tend[n] = j
                n += 1
                i = j
                continue
        val[n] = PUNCT_BASE + np.uint64(c)
        ref[n] = NOT_IDENT
        nxt[n] = -1
        tstart[n] = i
        tend[n] = i + 1
        n += 1
        i += 1
    return n


@nb.njit(cache=True, inline="always")
def _code_point(buf: np.ndarray, i: int, length: int) -> int:
    """The code point of the 2- or 3-byte UTF-8 sequence at ``i``."""
    if length == 2:
        return ((np.int64(buf[i]) & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F)
    return (
        ((np.int64(buf[i]) & 0x0F) << 12)
        | ((np.int64(buf[i + 1]) & 0x3F) << 6)
        | (np.int64(buf[i + 2]) & 0x3F)
    )


@nb.njit(cache=True, inline="always")
def _sequence_length(buf: np.ndarray, i: int, e: int) -> int:
    """Bytes of the UTF-8 sequence at ``i`` (1 for a stray byte), cut at ``e``."""
    c = buf[i]
    n = 4 if c >= 0xF0 else 3 if c >= 0xE0 else 2 if c >= 0xC0 else 1
    return min(n, e - i)


def _ascii_words() -> np.ndarray:
    """Per ASCII byte: the byte a word reads for it (letters lowercased, digits, ``_``), or 0
    for a separator. A read-only table the kernels see as a constant."""
    table = np.zeros(128, np.uint8)
    for c in range(128):
        if (97 <= c <= 122) or (48 <= c <= 57) or c == 95:
            table[c] = c
        elif 65 <= c <= 90:
            table[c] = c + 32
    table.setflags(write=False)
    return table


ASCII_WORDS = _ascii_words()


@nb.njit(cache=True)
def _text_tokens(
    buf: np.ndarray,
    s: int,
    e: int,
    fold_offsets: np.ndarray,
    fold_pool: np.ndarray,
    val: np.ndarray,
    tstart: np.ndarray,
    tend: np.ndarray,
) -> int:
    """Words in one pass, hashed as they are read: ASCII letters lowercased (``ASCII_WORDS``),
    other BMP characters read through the fold table (NFKC, lowercase, punctuation -> space)."""
    n = 0
    h = FNV_OFFSET
    start = -1
    end = s
    i = s
    while i < e:
        c = buf[i]
        if c < 128:
            low = ASCII_WORDS[c]
            if low != 0:
                if start < 0:
                    start = i
                    h = FNV_OFFSET
                h = (h ^ np.uint64(low)) * FNV_PRIME
                end = i + 1
            elif start >= 0:
                val[n], tstart[n], tend[n] = h, start, end
                n += 1
                start = -1
            i += 1
            continue
        length = _sequence_length(buf, i, e)
        folded = length == 2 or length == 3  # else astral or stray: bytes as they are
        lo, hi = np.int64(i), np.int64(i + length)
        if folded:
            cp = _code_point(buf, i, length)
            lo, hi = np.int64(fold_offsets[cp]), np.int64(fold_offsets[cp + 1])
        for j in range(lo, hi):
            b = fold_pool[j] if folded else buf[j]
            if b != 32:
                if start < 0:
                    start = i
                    h = FNV_OFFSET
                h = (h ^ np.uint64(b)) * FNV_PRIME
                end = i + length
            elif start >= 0:
                val[n], tstart[n], tend[n] = h, start, end
                n += 1
                start = -1
        i += length
    if start >= 0:
        val[n], tstart[n], tend[n] = h, start, end
        n += 1
    return n


@nb.njit(cache=True, inline="always")
def _token_value(val: np.ndarray, ref: np.ndarray, t: int, p: int) -> np.uint64:
    """Token ``t`` as seen from the k-gram starting at ``p``."""
    r = ref[t]
    if r < 0:
        return val[t]
    if 0 < r <= REF_CAP and t - r >= p:
        return ID_REF + np.uint64(r)
    return ID_NEW


@nb.njit(cache=True)
def _powers(k: int) -> np.ndarray:
    pw = np.empty(k + 1, np.uint64)
    pw[0] = ONE
    for i in range(1, k + 1):
        pw[i] = pw[i - 1] * KGRAM_PRIME
    return pw


@nb.njit(cache=True)
def _kgram_hashes(
    val: np.ndarray,
    ref: np.ndarray,
    nxt: np.ndarray,
    n: int,
    k: int,
    seed: np.uint64,
    channel: np.uint64,
    out: np.ndarray,
) -> int:
    """Rolling hash of every window of ``k`` tokens; identifiers canonical within the window.

    An identifier refers back to its previous use only while that use is inside the window;
    when the window leaves the earlier use, the later one (``nxt``) turns into a fresh ID.
    """
    m = n - k + 1
    if m <= 0:
        return 0
    pw = _powers(k)
    h = np.uint64(0)
    for j in range(k):
        h = h * KGRAM_PRIME + _token_value(val, ref, j, 0)
    out[0] = (_mix(h ^ seed) & ~ONE) | channel
    for p in range(1, m):
        h = (h - _token_value(val, ref, p - 1, p - 1) * pw[k - 1]) * KGRAM_PRIME
        h += _token_value(val, ref, p + k - 1, p)
        t = nxt[p - 1]
        if t >= 0 and t < p + k - 1 and ref[t] <= REF_CAP:
            old = ID_REF + np.uint64(ref[t])
            h += (ID_NEW - old) * pw[k - 1 - (t - p)]
        out[p] = (_mix(h ^ seed) & ~ONE) | channel
    return m


@nb.njit(cache=True)
def _kgram_plain(
    val: np.ndarray, n: int, k: int, seed: np.uint64, channel: np.uint64, out: np.ndarray
) -> int:
    """Rolling hash of every window of ``k`` tokens, taken as they are."""
    m = n - k + 1
    if m <= 0:
        return 0
    top = _powers(k)[k - 1]
    h = np.uint64(0)
    for j in range(k):
        h = h * KGRAM_PRIME + val[j]
    out[0] = (_mix(h ^ seed) & ~ONE) | channel
    for p in range(1, m):
        h = (h - val[p - 1] * top) * KGRAM_PRIME + val[p + k - 1]
        out[p] = (_mix(h ^ seed) & ~ONE) | channel
    return m


@nb.njit(cache=True)
def _mark_repetitive(val: np.ndarray, m: int, k: int, hashes: np.ndarray) -> None:
    """K-grams that mostly repeat a pattern of up to ``MAX_PERIOD`` tokens (a table of
    strings, a list of names, ``STR : STR`` pairs, with the ``x = (`` that opens it) are no
    evidence of anything: mark them NO_EVIDENCE.

    For each period ``d``, a rolling count of the window's positions whose token differs from
    the one ``d`` before; at most ``k // 4`` such breaks means the window is repetitive. String
    literals count as alike whatever they hold (a table of strings is a table).
    """
    if m <= 0:
        return
    n = m + k - 1
    shape = np.empty(n, np.uint64)
    for t in range(n):
        shape[t] = _shape(val[t])
    breaks = k // 4
    periods = min(MAX_PERIOD, breaks)
    # differ[d - 1]: positions of the window whose token differs from the one d before.
    differ = np.zeros(MAX_PERIOD, np.int64)
    for d in range(1, periods + 1):
        for p in range(d, k):
            differ[d - 1] += 1 if shape[p] != shape[p - d] else 0
    for s in range(m):
        if s > 0:
            new = s + k - 1
            for d in range(1, periods + 1):
                differ[d - 1] += (shape[new] != shape[new - d]) - (shape[s - 1 + d] != shape[s - 1])
        for d in range(periods):
            if differ[d] <= breaks:
                hashes[s] = NO_EVIDENCE | (hashes[s] & ONE)
                break


@nb.njit(cache=True)
def _winnow(hashes: np.ndarray, m: int, w: int, picks: np.ndarray) -> int:
    """Robust winnowing: the rightmost minimum of every window of ``w`` hashes, deduplicated."""
    if m == 0:
        return 0
    width = min(w, m)
    best = 0
    for j in range(1, width):
        if hashes[j] <= hashes[best]:
            best = j
    picks[0] = best
    count = 1
    for s in range(1, m - width + 1):
        e = s + width - 1
        if best < s:
            best = s
            for j in range(s + 1, e + 1):
                if hashes[j] <= hashes[best]:
                    best = j
        elif hashes[e] <= hashes[best]:
            best = e
        if best != picks[count - 1]:
            picks[count] = best
            count += 1
    return count


@nb.njit(cache=True)
def _emit(
    doc: int,
    hashes: np.ndarray,
    picks: np.ndarray,
    count: int,
    k: int,
    tstart: np.ndarray,
    tend: np.ndarray,
    o_hash: np.ndarray,
    o_doc: np.ndarray,
    o_start: np.ndarray,
    o_end: np.ndarray,
    nf: int,
    base: int,
) -> int:
    """Append the picked k-grams, with byte spans relative to the document's start ``base``."""
    for q in range(count):
        p = picks[q]
        if hashes[p] >= NO_EVIDENCE:
            continue
        o_hash[nf] = hashes[p]
        o_doc[nf] = doc
        o_start[nf] = tstart[p] - base
        o_end[nf] = tend[p + k - 1] - base
        nf += 1
    return nf


@nb.njit(cache=True)
def fingerprint_code(buf, starts, keywords, k, w, seed, channel, literal_strings, v6, tok, out):  # type: ignore[no-untyped-def]
    """Code-channel fingerprints of every document in the batch; returns their count.

    Spans are byte offsets relative to each document's start. ``literal_strings``: one-line
    string literals are tokens of their contents (else every string is STR). ``v6``: all-capitals
    keywords (``AND`` is ``and``), ``-- `` and ``<!-- -->`` comments.

    ``tok`` is scratch (uint64 ``val``/``hashes`` and int64 ``ref``/``nxt``/``tstart``/``tend``/
    ``picks``, each at least the longest document's length + 1) and ``out`` the result arrays
    (``hash``, ``doc``, ``start``, ``end``, at least the batch's length + 1).
    """
    val, hashes, ref, nxt, tstart, tend, picks = tok
    o_hash, o_doc, o_start, o_end = out
    seen_key = np.zeros(1 << 14, np.uint64)
    seen_pos = np.zeros(1 << 14, np.int64)
    seen_gen = np.zeros(1 << 14, np.int64)
    nf = 0
    for d in range(starts.shape[0] - 1):
        n = _code_tokens(
            buf,
            starts[d],
            starts[d + 1],
            keywords,
            val,
            ref,
            nxt,
            tstart,
            tend,
            seen_key,
            seen_pos,
            seen_gen,
            d + 1,
            literal_strings,
            v6,
        )
        m = _kgram_hashes(val, ref, nxt, n, k, seed, channel, hashes)
        _mark_repetitive(val, m, k, hashes)
        count = _winnow(hashes, m, w, picks)
        nf = _emit(
            d, hashes, picks, count, k, tstart, tend, o_hash, o_doc, o_start, o_end, nf, starts[d]
        )
    return nf


@nb.njit(cache=True)
def fingerprint_text(buf, starts, fold_offsets, fold_pool, k, w, seed, channel, tok, out):  # type: ignore[no-untyped-def]
    """Text-channel (prose) fingerprints of every document in the batch; returns their count.

    ``fold_offsets`` / ``fold_pool``: the prose folding table of
    :func:`distillguard.fingerprint.normalize.fold_table`.
    """
    val, hashes, _ref, _nxt, tstart, tend, picks = tok
    o_hash, o_doc, o_start, o_end = out
    nf = 0
    for d in range(starts.shape[0] - 1):
        n = _text_tokens(buf, starts[d], starts[d + 1], fold_offsets, fold_pool, val, tstart, tend)
        m = _kgram_plain(val, n, k, seed, channel, hashes)
        count = _winnow(hashes, m, w, picks)
        nf = _emit(
            d, hashes, picks, count, k, tstart, tend, o_hash, o_doc, o_start, o_end, nf, starts[d]
        )
    return nf
