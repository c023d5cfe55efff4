"""How one cdk.json field's value is read: small readers, each a function of the value alone.

A reader returns the parsed value or raises ``FieldProblem``; the caller names the context, the environment
and the field (``environments.prod.caller_arns: ...``). Rules between fields live in ``stacks.config_rules``.
The optional one-object sections (``pipeline``, ``guardrails``) share ``SectionError``, ``section`` and
``required_text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kmsecdh_cdk.principals import ARN_WILDCARDS, check_exact_principal_arn

Reader = Callable[[Any], Any]

ACCOUNT_PATTERN = re.compile(r"\d{12}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
# IAM roles and users (with optional path) and account roots, in any partition.
PRINCIPAL_ARN_PATTERN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:"
    r"(root|(role|user)/([\x21-\x7e]+/)?[\w+=,.@-]{1,64})"
)
# AWS Organizations: an organisation id, and an organisation entity path as aws:PrincipalOrgPaths carries it
# (o-<id>/r-<root>/ou-<root>-<ou>/..., always ending with '/'); a trailing '*' also admits every OU below.
ORGANIZATION_ID_PATTERN = re.compile(r"o-[a-z0-9]{10,32}")
ORGANIZATION_PATH_PATTERN = re.compile(
    r"(o-[a-z0-9]{10,32})/r-[0-9a-z]{4,32}/(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}/)*\*?"
)


class FieldProblem(ValueError):
    """What is wrong with a field's value; ``subfield`` (``.ECC_NIST_P256[0].name``) points inside it."""

    def __init__(self, problem: str, subfield: str = "") -> None:
        self.problem = problem
        self.subfield = subfield
        super().__init__(problem)


class SectionError(ValueError):
    """A bad entry of an optional cdk.json section; str() starts with ``<SECTION>.<field>``."""

    SECTION = ""

    def __init__(self, field: str | None, problem: str) -> None:
        self.field = field
        location = ".".join(part for part in (self.SECTION, field) if part)
        super().__init__(f"{location}: {problem}")


def section(context: object, fields: tuple[str, ...], error: type[SectionError]) -> Mapping[str, Any]:
    """``context`` as a section: an object with none but ``fields``."""
    if not isinstance(context, Mapping):
        raise error(None, f"must be an object, got {type(context).__name__}")
    unknown = sorted(set(context) - set(fields))
    if unknown:
        raise error(unknown[0], f"unknown field (known: {', '.join(fields)})")
    return context


def required_text(
    context: Mapping[str, Any], field: str, pattern: re.Pattern[str], what: str, error: type[SectionError]
) -> str:
    """A section's required ``field``, matching ``pattern`` (``what`` says what it must be)."""
    value = context.get(field)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise error(field, f"required: {what}, got {value!r}")
    return value


def optional(read: Reader) -> Reader:
    """``read``, except that null (or the field left out, where the default is None) stays None."""

    def read_optional(value: Any) -> Any:
        return None if value is None else read(value)

    return read_optional


def text(pattern: re.Pattern[str], what: str) -> Reader:
    def read_text(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise FieldProblem(f"must be {what}, got {value!r}")
        return value

    return read_text


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldProblem(f"must be true or false, got {value!r}")
    return value


def integer(low: int, high: int) -> Reader:
    def read_integer(value: Any) -> int:
        # bool is an int subclass; `true` is not a number of days.
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldProblem(f"must be an integer, got {value!r}")
        if not low <= value <= high:
            raise FieldProblem(f"must be {low}..{high}, got {value}")
        return value

    return read_integer


def choice(choices: tuple[Any, ...]) -> Reader:
    def read_choice(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise FieldProblem(f"must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value

    return read_choice


def principal_arns(*, exact: bool = False) -> Reader:
    """IAM principal ARNs, never with a wildcard; ``exact`` also refuses an account root (derivers and
    callers, see kmsecdh_cdk.principals)."""

    def read_principal_arns(values: Any) -> tuple[str, ...]:
        if not isinstance(values, list | tuple):
            raise FieldProblem(f"must be a list of IAM principal ARNs, got {values!r}")
        for value in values:
            if not isinstance(value, str) or not PRINCIPAL_ARN_PATTERN.fullmatch(value):
                raise FieldProblem(
                    f"{value!r} is not an IAM role, user or account-root ARN (arn:aws:iam::<account>:...)"
                )
            try:
                if exact:
                    check_exact_principal_arn(value)
                elif any(wildcard in value for wildcard in ARN_WILDCARDS):
                    raise ValueError(f"{value!r} holds '*' or '?': a policy principal is never a pattern")
            except ValueError as error:
                raise FieldProblem(str(error)) from None
        if len(set(values)) != len(values):
            raise FieldProblem("lists a principal twice")
        return tuple(values)

    return read_principal_arns


def organization_paths(values: Any) -> tuple[str, ...]:
    """Organisation entity paths for ``aws:PrincipalOrgPaths``."""
    if not isinstance(values, list | tuple):
        raise FieldProblem(f"must be a list of organisation paths, got {values!r}")
    for value in values:
        if not isinstance(value, str) or not ORGANIZATION_PATH_PATTERN.fullmatch(value):
            raise FieldProblem(
                f"{value!r} is not an organisation path such as o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ "
                "(ending with '/', or '/*' to include every OU below it)"
            )
    if len(set(values)) != len(values):
        raise FieldProblem("lists a path twice")
    return tuple(values)


def regions(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        raise FieldProblem(f"must be a list of AWS Region names, got {values!r}")
    for value in values:
        if not isinstance(value, str) or not REGION_PATTERN.fullmatch(value):
            raise FieldProblem(f"must hold AWS Region names such as eu-west-1, got {value!r}")
    if len(set(values)) != len(values):
        raise FieldProblem("lists a Region twice")
    return tuple(values)
