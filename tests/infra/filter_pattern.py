"""A small, strict evaluator of CloudWatch Logs JSON filter patterns: the subset the audit's patterns use.

Syntax (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, "Using filter
patterns to match terms in JSON log events"):

    pattern    = "{" expression "}"
    expression = term { ("&&" | "||") term }      (one operator per level: mixing needs parentheses)
    term       = "(" expression ")" | selector test
    selector   = "$" { "." name | "[" index "]" }
    test       = ("=" | "!=") value | "IS NULL" | "NOT EXISTS" | "EXISTS"
    value      = a double-quoted string, or an unquoted word (no blank, parenthesis, "&" or "|")

Semantics: ``*`` in a value matches any characters (none included); string comparison is case-sensitive; a
comparison with a property the event lacks (or whose value is null) is false for ``=`` and ``!=`` alike;
``IS NULL`` needs the
property present with the value null; ``NOT EXISTS`` needs it absent. An unquoted number compares with a JSON
number numerically. Anything else (other operators, regular expressions, comparing a string pattern with a
number, boolean or object, or mixing ``&&`` and ``||`` without parentheses, whose precedence the
documentation leaves open) raises ``FilterPatternError`` rather than being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]
Predicate = Callable[[Event], bool]

_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<operator>&&|\|\||!=|=|\(|\)|\{|\})
      | (?P<selector>\$(?:\.[A-Za-z_][\w-]*|\[\d+\])+)
      | (?P<word>[^\s()&|"=!{}]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class FilterPatternError(ValueError):
    """A pattern outside the supported subset, or a comparison whose result would be a guess."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def matches(pattern: str, event: Event) -> bool:
    """Whether ``event`` (a parsed JSON log event) matches the JSON filter ``pattern``."""
    return compile_pattern(pattern)(event)


def compile_pattern(pattern: str) -> Predicate:
    parser = _Parser(_tokens(pattern))
    parser.expect("{")
    predicate = parser.expression()
    parser.expect("}")
    if parser.remaining():
        raise FilterPatternError(f"text after the closing brace: {parser.peek().text!r}")
    return predicate


def _tokens(pattern: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(pattern.rstrip()):
        match = _TOKEN.match(pattern, position)
        if match is None or match.end() == position:
            raise FilterPatternError(f"cannot read the pattern at {pattern[position : position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0

    def remaining(self) -> bool:
        return self._index < len(self._tokens)

    def peek(self) -> _Token:
        if not self.remaining():
            raise FilterPatternError("the pattern ends too early")
        return self._tokens[self._index]

    def take(self) -> _Token:
        token = self.peek()
        self._index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise FilterPatternError(f"expected {text!r}, found {token.text!r}")

    def expression(self) -> Predicate:
        terms = [self.term()]
        operator = None
        while self.remaining() and self.peek().text in ("&&", "||"):
            found = self.take().text
            if operator is not None and found != operator:
                raise FilterPatternError("&& and || mixed without parentheses")
            operator = found
            terms.append(self.term())
        if operator == "&&":
            return lambda event: all(term(event) for term in terms)
        if operator == "||":
            return lambda event: any(term(event) for term in terms)
        return terms[0]

    def term(self) -> Predicate:
        token = self.take()
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind != "selector":
            raise FilterPatternError(f"expected a selector or '(', found {token.text!r}")
        return self.test(_path(token.text))

    def test(self, path: list[str | int]) -> Predicate:
        token = self.take()
        if token.text in ("=", "!="):
            value = self.take()
            if value.kind not in ("string", "word"):
                raise FilterPatternError(f"expected a value after {token.text}, found {value.text!r}")
            compare = _comparison(value)
            if token.text == "=":
                return lambda event: _compared(event, path, compare, negate=False)
            return lambda event: _compared(event, path, compare, negate=True)
        if token.kind == "word" and token.text in ("IS", "NOT"):
            second = self.take().text
            if (token.text, second) == ("IS", "NULL"):
                return lambda event: _resolve(event, path) is None
            if (token.text, second) == ("NOT", "EXISTS"):
                return lambda event: _resolve(event, path) is _MISSING
            raise FilterPatternError(f"unsupported test {token.text} {second}")
        if token.text == "EXISTS":
            return lambda event: _resolve(event, path) is not _MISSING
        raise FilterPatternError(f"unsupported test {token.text!r}")


def _path(selector: str) -> list[str | int]:
    return [
        int(index) if index else name
        for name, index in re.findall(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]", selector.removeprefix("$"))
    ]


def _resolve(event: Any, path: list[str | int]) -> Any:
    value = event
    for step in path:
        in_list = isinstance(step, int) and isinstance(value, list) and step < len(value)
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (in_list or in_object):
            return _MISSING
        value = value[step]
    return value


def _comparison(value: _Token) -> Callable[[Any], bool]:
    """Whether a present property's value equals the pattern value (wildcards applied)."""
    text = value.text[1:-1].replace('\\"', '"') if value.kind == "string" else value.text
    if value.kind == "word" and text.startswith("%"):
        raise FilterPatternError(f"regular expressions are not supported: {text}")
    numeric = value.kind == "word" and _NUMBER.fullmatch(text) is not None
    wildcard = re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)

    def compare(found: Any) -> bool:
        if isinstance(found, str):
            return wildcard.fullmatch(found) is not None
        if numeric and isinstance(found, int | float) and not isinstance(found, bool):
            return float(found) == float(text)
        raise FilterPatternError(f"comparing {value.text} with the non-string value {found!r}")

    return compare


def _compared(event: Event, path: list[str | int], compare: Callable[[Any], bool], *, negate: bool) -> bool:
    found = _resolve(event, path)
    if found is _MISSING or found is None:
        return False
    return compare(found) != negate
