"""The run search language: tokens, a recursive-descent parser, the AST and its printer.

The semantics (what each condition means in the catalog) live in ``weekend.tracking.search``;
this module only turns text into an AST and back, with errors that point at the character
at fault. Grammar, by increasing precedence::

    filter     := or_expr
    or_expr    := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | '(' or_expr ')' | condition
    condition  := ident op value
                | ident [NOT] IN '(' value (',' value)* ')'
                | ident [NOT] (LIKE | ILIKE) string
                | ident IS [NOT] NULL
    ident      := prefix '.' (bare_key | `quoted key` | "quoted key")
    op         := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
    order_key  := ident [ASC | DESC]

Keywords, prefixes and attribute names are case-insensitive; keys are not. Strings take
single or double quotes; a quote inside is written twice (``'it''s'``); a backslash is an
ordinary character in a string (it only escapes in LIKE patterns, see ``search``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from weekend.core.errors import FilterSyntaxError

Kind: TypeAlias = Literal["metric", "param", "tag", "attribute"]
Value: TypeAlias = int | float | str
CompareOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]

PREFIXES: dict[Kind, str] = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
}
_PREFIX_ALIASES: dict[str, Kind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
}
# Attribute name -> its type: "text" (compared as strings) or "time" (integer milliseconds).
ATTRIBUTES: dict[str, Literal["text", "time"]] = {
    "status": "text",
    "name": "text",
    "run_id": "text",
    "experiment_id": "text",
    "parent_id": "text",
    "start_time": "time",
    "end_time": "time",
    "user": "text",
    "host": "text",
}
_ATTRIBUTE_ALIASES = {"id": "run_id", "run_name": "name"}
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "is", "null"})
_OPS: dict[str, CompareOp] = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
BARE_KEY = re.compile(r"[A-Za-z0-9_.:/\-]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPACE = " \t\r\n"
_INT64 = 2**63
MAX_DEPTH = 50  # nested parentheses and NOTs; keeps the parser and the SQL shallow


# -- the AST ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Identifier:
    """``metrics.auc``: what a condition or a sort key looks at."""

    kind: Kind
    key: str

    def __str__(self) -> str:
        if BARE_KEY.fullmatch(self.key):
            return f"{PREFIXES[self.kind]}.{self.key}"
        return f"{PREFIXES[self.kind]}.`{self.key.replace('`', '``')}`"


@dataclass(frozen=True, slots=True)
class Comparison:
    ident: Identifier
    op: CompareOp
    value: Value


@dataclass(frozen=True, slots=True)
class InList:
    ident: Identifier
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    ident: Identifier
    pattern: str
    negated: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class IsNull:
    ident: Identifier
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` (at least two, none of them an ``And``)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` (at least two, none of them an ``Or``)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class SortKey:
    ident: Identifier
    descending: bool = False


Predicate: TypeAlias = Comparison | InList | Like | IsNull
Node: TypeAlias = Comparison | InList | Like | IsNull | And | Or | Not


def conjoin(items: list[Node]) -> Node:
    """``And`` of the items, flattened; a single item is returned as is."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, And) else (item,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def disjoin(items: list[Node]) -> Node:
    """``Or`` of the items, flattened; a single item is returned as is."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Or) else (item,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


# -- printing -----------------------------------------------------------------------------
def format_value(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_filter(node: Node) -> str:
    """The text of a filter; ``parse_filter(format_filter(n)) == n`` for every valid AST."""
    if isinstance(node, And):
        return " AND ".join(
            f"({format_filter(i)})" if isinstance(i, Or) else format_filter(i) for i in node.items
        )
    if isinstance(node, Or):
        return " OR ".join(format_filter(i) for i in node.items)
    if isinstance(node, Not):
        inner = format_filter(node.operand)
        return f"NOT ({inner})" if isinstance(node.operand, And | Or) else f"NOT {inner}"
    if isinstance(node, Comparison):
        return f"{node.ident} {node.op} {format_value(node.value)}"
    if isinstance(node, InList):
        values = ", ".join(format_value(v) for v in node.values)
        return f"{node.ident} {'NOT ' if node.negated else ''}IN ({values})"
    if isinstance(node, Like):
        word = "ILIKE" if node.case_insensitive else "LIKE"
        return f"{node.ident} {'NOT ' if node.negated else ''}{word} {format_value(node.pattern)}"
    return f"{node.ident} IS {'NOT ' if node.negated else ''}NULL"


# -- tokens -------------------------------------------------------------------------------
TokenKind: TypeAlias = Literal[
    "ident", "keyword", "word", "string", "number", "op", "(", ")", ",", "end"
]

_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str  # the source text of the token (lower-cased for keywords)
    pos: int
    ident: Identifier | None = None
    literal: Value | None = None


def _describe(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.text, pos)

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos >= len(text):
                out.append(_Token("end", "", len(text)))
                return out
            out.append(self._token(text[self.pos]))

    def _token(self, char: str) -> _Token:
        start, text = self.pos, self.text
        if char in _PUNCTUATION:
            self.pos += 1
            return _Token(_PUNCTUATION[char], char, start)
        if char in "=!<>":
            two = text[start : start + 2]
            op = two if two in _OPS else char
            if op not in _OPS:
                raise self.error("'!' must be followed by '=' (write != for 'not equal')", start)
            self.pos += len(op)
            return _Token("op", op, start)
        if char in "'\"":
            value = self._quoted(char, "string")
            return _Token("string", text[start : self.pos], start, literal=value)
        if char == "-" or char == "." or char.isdigit():
            return self._number()
        match = _WORD.match(text, start)
        if match is None:
            raise self.error(f"unexpected character {char!r}", start)
        word = match.group()
        self.pos = match.end()
        if self.pos < len(text) and text[self.pos] == ".":
            return self._identifier(word, start)
        lower = word.lower()
        if lower in _KEYWORDS:
            return _Token("keyword", lower, start)
        return _Token("word", word, start)

    def _quoted(self, quote: str, what: str) -> str:
        """Read a quoted run starting at ``self.pos``; a doubled quote stands for one."""
        start, text = self.pos, self.text
        parts: list[str] = []
        i = start + 1
        while True:
            end = text.find(quote, i)
            if end < 0:
                raise self.error(f"unterminated {what}: no closing {quote}", start)
            parts.append(text[i:end])
            if text.startswith(quote * 2, end):
                parts.append(quote)
                i = end + 2
                continue
            self.pos = end + 1
            return "".join(parts)

    def _number(self) -> _Token:
        start, text = self.pos, self.text
        match = _NUMBER.match(text, start)
        if match is None:
            what = "'-' must be followed by a number" if text[start] == "-" else "a number"
            raise self.error(f"unexpected character {text[start]!r}: expected {what}", start)
        end = match.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_."):
            raise self.error(f"invalid number {text[start : end + 1]!r}", start)
        raw = match.group()
        self.pos = end
        value: Value
        if any(c in raw for c in ".eE"):
            value = float(raw)
            if not math.isfinite(value):
                raise self.error(f"number {raw} is out of range of a 64-bit float", start)
        else:
            value = int(raw)
            if not -_INT64 <= value < _INT64:
                raise self.error(f"integer {raw} is out of the 64-bit range", start)
        return _Token("number", raw, start, literal=value)

    def _identifier(self, word: str, start: int) -> _Token:
        kind = _PREFIX_ALIASES.get(word.lower())
        if kind is None:
            raise self.error(
                f"unknown identifier prefix {word!r}; expected metrics., params., tags. "
                "or attributes.",
                start,
            )
        self.pos += 1  # the dot
        key_start, text = self.pos, self.text
        if key_start < len(text) and text[key_start] in '`"':
            key = self._quoted(text[key_start], "quoted key")
            if not key:
                raise self.error(f"empty key after '{word}.'", key_start)
        else:
            match = BARE_KEY.match(text, key_start)
            if match is None:
                raise self.error(
                    f"missing key after '{word}.'; write {word}.<key>, and quote keys with "
                    f"other characters in backticks: {word}.`my key`",
                    key_start,
                )
            key = match.group()
            self.pos = match.end()
        if kind == "attribute":
            name = key.lower()
            name = _ATTRIBUTE_ALIASES.get(name, name)
            if name not in ATTRIBUTES:
                raise self.error(
                    f"unknown attribute {key!r}; expected one of {', '.join(ATTRIBUTES)}",
                    key_start,
                )
            key = name
        ident = Identifier(kind, key)
        return _Token("ident", text[start : self.pos], start, ident=ident)


# -- parsing ------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _Lexer(text).tokens()
        self.index = 0
        self.depth = 0

    def error(self, message: str, pos: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.text, pos)

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.text in words

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty filter; expected a condition such as metrics.auc > 0.8", 0)
        node = self.or_expr()
        token = self.peek()
        if token.kind == ")":
            raise self.error("unbalanced ')': there is no '(' to close", token.pos)
        if token.kind != "end":
            raise self.error(
                f"expected AND, OR or the end of the filter, got {token.text!r}", token.pos
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_keyword("or"):
            self.take()
            items.append(self.and_expr())
        return disjoin(items)

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at_keyword("and"):
            self.take()
            items.append(self.not_expr())
        return conjoin(items)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"filter nests deeper than {MAX_DEPTH} levels", token.pos)

    def not_expr(self) -> Node:
        token = self.peek()
        if self.at_keyword("not"):
            self.enter(self.take())
            node: Node = Not(self.not_expr())
            self.depth -= 1
            return node
        if token.kind == "(":
            self.enter(self.take())
            node = self.or_expr()
            closing = self.peek()
            if closing.kind == "end":
                raise self.error("unbalanced '(': it is never closed", token.pos)
            if closing.kind != ")":
                raise self.error(f"expected AND, OR or ')', got {closing.text!r}", closing.pos)
            self.take()
            self.depth -= 1
            return node
        if token.kind == "ident":
            return self.condition()
        previous = self.tokens[self.index - 1].text if self.index else ""
        after = f" after {previous.upper() if previous.isalpha() else repr(previous)}"
        if token.kind == "word":
            raise self.error(
                f"unknown identifier {token.text!r}; expected metrics.<key>, params.<key>, "
                "tags.<key> or attributes.<name>",
                token.pos,
            )
        raise self.error(
            f"expected a condition such as metrics.auc > 0.8{after if previous else ''}, "
            f"got {_describe(token)}",
            token.pos,
        )

    def condition(self) -> Predicate:
        ident_token = self.take()
        ident = ident_token.ident
        assert ident is not None
        token = self.take()
        if token.kind == "op":
            value_token = self.value(f"after {token.text!r}")
            self.check_value(ident, value_token)
            assert value_token.literal is not None
            return Comparison(ident, _OPS[token.text], value_token.literal)
        negated = False
        if token.kind == "keyword" and token.text == "not":
            negated = True
            token = self.take()
            if not (token.kind == "keyword" and token.text in ("in", "like", "ilike")):
                raise self.error(
                    f"expected IN, LIKE or ILIKE after NOT, got {_describe(token)}", token.pos
                )
        if token.kind == "keyword" and token.text == "in":
            return InList(ident, self.in_values(ident), negated)
        if token.kind == "keyword" and token.text in ("like", "ilike"):
            return self.like(ident, token, negated)
        if token.kind == "keyword" and token.text == "is":
            negated = self.at_keyword("not")
            if negated:
                self.take()
            null = self.take()
            if not (null.kind == "keyword" and null.text == "null"):
                raise self.error(f"expected NULL after IS, got {_describe(null)}", null.pos)
            return IsNull(ident, negated)
        raise self.error(
            f"expected an operator (=, !=, <, <=, >, >=, IN, LIKE, ILIKE, IS) after {ident}, "
            f"got {_describe(token)}",
            token.pos,
        )

    def value(self, where: str) -> _Token:
        token = self.take()
        if token.kind in ("string", "number"):
            return token
        if token.kind == "keyword" and token.text == "null":
            raise self.error("compare with NULL using IS NULL or IS NOT NULL", token.pos)
        if token.kind == "end":
            raise self.error(f"missing value {where}", token.pos)
        raise self.error(
            f"expected a number or a quoted string {where}, got {token.text!r}", token.pos
        )

    def check_value(self, ident: Identifier, token: _Token) -> None:
        numeric = ident.kind == "metric" or (
            ident.kind == "attribute" and ATTRIBUTES[ident.key] == "time"
        )
        if numeric and token.kind == "string":
            what = "metric values" if ident.kind == "metric" else "times in milliseconds"
            raise self.error(
                f"{ident} holds numbers ({what}); compare it with a number, got string "
                f"{token.text}",
                token.pos,
            )
        if ident.kind == "attribute" and not numeric and token.kind == "number":
            raise self.error(
                f"{ident} holds text; compare it with a quoted string such as '{token.text}', "
                f"got number {token.text}",
                token.pos,
            )

    def in_values(self, ident: Identifier) -> tuple[Value, ...]:
        opening = self.take()
        if opening.kind != "(":
            raise self.error(f"expected '(' after IN, got {_describe(opening)}", opening.pos)
        if self.peek().kind == ")":
            raise self.error("IN needs at least one value", self.peek().pos)
        values: list[Value] = []
        while True:
            token = self.value("in the IN list")
            self.check_value(ident, token)
            assert token.literal is not None
            values.append(token.literal)
            sep = self.take()
            if sep.kind == ")":
                return tuple(values)
            if sep.kind == "end":
                raise self.error("unbalanced '(': the IN list is never closed", opening.pos)
            if sep.kind != ",":
                raise self.error(f"expected ',' or ')' in the IN list, got {sep.text!r}", sep.pos)

    def like(self, ident: Identifier, word: _Token, negated: bool) -> Like:
        if ident.kind == "metric" or (
            ident.kind == "attribute" and ATTRIBUTES[ident.key] == "time"
        ):
            raise self.error(
                f"{word.text.upper()} works on params, tags and text attributes; {ident} "
                "holds numbers",
                word.pos,
            )
        token = self.value(f"after {word.text.upper()}")
        if token.kind != "string":
            raise self.error(
                f"{word.text.upper()} needs a quoted pattern such as '%gbm%', got {token.text}",
                token.pos,
            )
        pattern = token.literal
        assert isinstance(pattern, str)
        if _ends_with_escape(pattern):
            raise self.error(
                "LIKE pattern ends with an unfinished escape '\\' (write '\\\\' for a backslash)",
                token.pos,
            )
        return Like(ident, pattern, negated, word.text == "ilike")


def _ends_with_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


def parse_filter(text: str) -> Node:
    """Parse a filter such as ``metrics.auc > 0.8 and params.model = 'gbm'`` into an AST.

    Raises :class:`FilterSyntaxError` (with the position of the offending character) for
    any text that is not a valid filter.
    """
    if not isinstance(text, str):
        raise FilterSyntaxError(
            f"filter must be a string, got {type(text).__name__}", repr(text), 0
        )
    return _Parser(text).parse()


def parse_order_key(text: str) -> SortKey:
    """Parse one ``order_by`` entry such as ``"metrics.auc desc"`` or ``"params.model"``."""
    if not isinstance(text, str):
        raise FilterSyntaxError(
            f"order_by entries must be strings, got {type(text).__name__}", repr(text), 0
        )
    tokens = _Lexer(text).tokens()
    first = tokens[0]
    if first.ident is None:
        raise FilterSyntaxError(
            "order_by entry must start with metrics.<key>, params.<key>, tags.<key> or "
            f"attributes.<name>, got {_describe(first)}",
            text,
            first.pos,
        )
    descending = False
    rest = tokens[1:]
    if rest[0].kind == "word" and rest[0].text.lower() in ("asc", "desc"):
        descending = rest[0].text.lower() == "desc"
        rest = rest[1:]
    if rest[0].kind != "end":
        raise FilterSyntaxError(
            f"expected ASC, DESC or the end of the order_by entry, got {rest[0].text!r}",
            text,
            rest[0].pos,
        )
    return SortKey(first.ident, descending)
