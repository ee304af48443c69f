"""SQL text as tokens: the tokenizer and the normalizer used to compare SQL by structure.

SQLite keeps the original CREATE text of indexes and views, so two equal definitions may differ
in case, spacing and quoting. Comparisons fold exactly those (keywords and identifiers to lower
case, quotes off identifiers) and never touch string literals. No regular expressions decide
anything here: a small hand-written scanner follows SQLite's lexical rules
(https://www.sqlite.org/lang_keywords.html, https://www.sqlite.org/lang_expr.html).
"""

from __future__ import annotations

from dataclasses import dataclass

WORD = "word"          # bare keyword or identifier
IDENT = "ident"        # quoted identifier: "x", `x`, [x]
STRING = "string"      # 'literal'
NUMBER = "number"
PARAM = "param"        # ?, ?1, :name, @name, $name
PUNCT = "punct"

_CLOSERS = {'"': '"', "`": "`", "[": "]"}
_TWO_CHAR_OPS = ("<>", "<=", ">=", "==", "!=", "||", "<<", ">>", "->")


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind, its exact text and where it sits in the source."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def unquoted(self) -> str:
        """The text with identifier quotes removed, case kept."""
        if self.kind != IDENT:
            return self.text
        close = _CLOSERS[self.text[0]]
        inner = self.text[1:-1]
        return inner if close == "]" else inner.replace(close * 2, close)

    @property
    def value(self) -> str:
        """The folded form: identifiers unquoted and lower-cased, literals untouched."""
        if self.kind in (WORD, IDENT):
            return self.unquoted.lower()
        return self.text

    def is_word(self, *words: str) -> bool:
        """True if this is a bare word equal (case-insensitively) to one of `words`."""
        return self.kind == WORD and self.text.lower() in words

    @property
    def is_name(self) -> bool:
        """True for anything that can name an object: a bare word or a quoted identifier."""
        return self.kind in (WORD, IDENT)


class SQLSyntaxError(ValueError):
    """The text cannot be tokenized (an unterminated quote or comment)."""


def tokenize(sql: str) -> list[Token]:
    """Split `sql` into tokens, dropping white space and comments."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch == "'":
            j = _scan_quoted(sql, i, "'")
            tokens.append(Token(STRING, sql[i:j], i, j))
            i = j
        elif ch in _CLOSERS:
            j = _scan_quoted(sql, i, _CLOSERS[ch])
            tokens.append(Token(IDENT, sql[i:j], i, j))
            i = j
        elif ch in "xX" and sql.startswith("'", i + 1):
            j = _scan_quoted(sql, i + 1, "'")
            tokens.append(Token(STRING, sql[i:j], i, j))
            i = j
        elif ch.isalpha() or ch == "_" or ord(ch) > 127:
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$" or ord(sql[j]) > 127):
                j += 1
            tokens.append(Token(WORD, sql[i:j], i, j))
            i = j
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "._" or
                             (sql[j] in "+-" and sql[j - 1] in "eE" and not _is_hex(sql, i))):
                j += 1
            tokens.append(Token(NUMBER, sql[i:j], i, j))
            i = j
        elif ch in "?:@$":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            tokens.append(Token(PARAM, sql[i:j], i, j))
            i = j
        else:
            two = sql[i:i + 2]
            j = i + 2 if two in _TWO_CHAR_OPS else i + 1
            tokens.append(Token(PUNCT, sql[i:j], i, j))
            i = j
    return tokens


def _is_hex(sql: str, start: int) -> bool:
    return sql[start:start + 2].lower() == "0x"


def _scan_quoted(sql: str, i: int, close: str) -> int:
    """Return the index just past the quoted token opening at `i` (doubled quotes escape)."""
    j = i + 1
    n = len(sql)
    while j < n:
        if sql[j] == close:
            if close != "]" and j + 1 < n and sql[j + 1] == close:
                j += 2
                continue
            return j + 1
        j += 1
    raise SQLSyntaxError(f"unterminated {sql[i]} at offset {i}")


def normalized(tokens: list[Token]) -> tuple[str, ...]:
    """The comparison form of a token list: folded values, with a kind tag on literals so that
    the identifier "x" and the string 'x' never compare equal."""
    return tuple(t.value if t.kind != STRING else "s:" + t.text for t in tokens)


def normalize(sql: str) -> tuple[str, ...]:
    """Tokenize and fold `sql` for comparison."""
    return normalized(tokenize(sql))


def statements(sql: str) -> list[list[Token]]:
    """Split into statements at top-level semicolons; empty statements are dropped.

    (Semicolons inside CREATE TRIGGER bodies are not top-level in SQLite, but no caller
    splits trigger text.)"""
    result: list[list[Token]] = [[]]
    for tok in tokenize(sql):
        if tok.kind == PUNCT and tok.text == ";":
            result.append([])
        else:
            result[-1].append(tok)
    return [s for s in result if s]


def matching_paren(tokens: list[Token], open_at: int) -> int:
    """Index of the ')' that closes the '(' at `open_at`."""
    depth = 0
    for k in range(open_at, len(tokens)):
        t = tokens[k]
        if t.kind == PUNCT and t.text == "(":
            depth += 1
        elif t.kind == PUNCT and t.text == ")":
            depth -= 1
            if depth == 0:
                return k
    raise SQLSyntaxError("unbalanced parentheses")


def split_top_level(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """Split a token list at separators that are not inside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == PUNCT and t.text == "(":
            depth += 1
        elif t.kind == PUNCT and t.text == ")":
            depth -= 1
        if depth == 0 and t.kind == PUNCT and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def source(sql: str, tokens: list[Token]) -> str:
    """The original text spanned by a non-empty token list."""
    return sql[tokens[0].start:tokens[-1].end]


def named_parameters(sql: str) -> tuple[list[str], bool]:
    """The `:name` (`@name`, `$name`) parameters SQLite's tokenizer finds, and whether `?`
    placeholders are used."""
    used = [t.text[1:] for t in tokenize(sql) if t.kind == PARAM and t.text[:1] in ":@$"]
    return used, any(t.kind == PARAM and t.text[:1] == "?" for t in tokenize(sql))
