"""The `environments` context of cdk.json, parsed and validated before any construct is built.

Each field is declared once, in ``EnvironmentConfig``: its type, default, reader (``stacks.config_readers``)
and one-line description. The rules between fields are ``stacks.config_rules``. Every problem is reported as
one ``EnvironmentConfigError`` naming the environment and the field, e.g.
``environments.prod.minimum_deletion_window_days: must be 7..30, got 3``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from kmsecdh.directory import MAX_VALIDITY as MAX_DIRECTORY_VALIDITY
from kmsecdh.keys import KEY_SPECS
from kmsecdh_cdk.key_agreement_key import check_key_spec
from kmsecdh_cdk.key_policy import MAX_PENDING_WINDOW_DAYS, MIN_PENDING_WINDOW_DAYS
from stacks.config_readers import (
    ACCOUNT_PATTERN,
    ORGANIZATION_ID_PATTERN,
    REGION_PATTERN,
    FieldProblem,
    Reader,
    choice,
    flag,
    integer,
    optional,
    organization_paths,
    principal_arns,
    regions,
    text,
)
from stacks.config_rules import RULES, RuleViolation

CONTEXT_KEY = "environments"
TODAY_CONTEXT_KEY = "kmsecdh:today"
"""Context value ``YYYY-MM-DD`` standing in for today's date (UTC) when generations' ``retire_after`` are
compared: tests synthesize each step of the rotation runbook with it, an operator can preview a date."""

ENVIRONMENT_NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
# A generation's name ends its alias (alias/kmsecdh-<environment>-p256-<generation>), e.g. 2026-11.
GENERATION_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
GENERATION_FIELDS = ("name", "retire_after", "multi_region")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOG_GROUP_NAME_PATTERN = re.compile(r"[\w#./-]{1,512}")
# A CDK bootstrap qualifier: the bootstrap template takes [A-Za-z0-9_-]{1,10}, but the qualifier is part of
# the staging bucket's name (cdk-<qualifier>-assets-...), where upper case and '_' are invalid.
BOOTSTRAP_QUALIFIER_PATTERN = re.compile(r"[a-z0-9-]{1,10}")
# S3 Object Lock's default retention and a lifecycle expiration, in days (S3 takes at most 36500).
MAX_BUCKET_DAYS = 36500
# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

# The derive function's application log level, as Lambda names them. Every one is safe: no Z or derived key
# reaches the log at DEBUG or TRACE either (kmsecdh.log).
LogLevelName = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
LOG_LEVELS: tuple[LogLevelName, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
TrailMode = Literal["create", "existing"]
ObjectLockModeName = Literal["compliance", "governance"]
RemovalPolicyName = Literal["retain", "destroy"]


@dataclass(frozen=True)
class KeyGeneration:
    """One generation of a key spec: its own KMS key, usable until ``retire_after`` (inclusive).

    ``name`` is None for the one implicit generation of a spec without ``key_generations`` (no generation
    alias). ``retired`` is whether ``retire_after`` had passed on the day of synthesis: the stack then
    disables the key (never deletes it) and the derive function is no longer configured with it.
    ``multi_region``: the key is a multi-Region primary, replicated to every replica Region. KMS fixes it
    when it creates the key, so it belongs to the generation: a key that should become multi-Region is a
    new generation, never the same key changed.
    """

    name: str | None
    retire_after: datetime.date | None = None
    retired: bool = False
    multi_region: bool = False

    @property
    def status(self) -> Literal["active", "retired"]:
        return "retired" if self.retired else "active"


IMPLICIT_GENERATION = KeyGeneration(name=None)


class EnvironmentConfigError(ValueError):
    """A bad `environments` entry in cdk.json; str() names the environment and the field."""

    def __init__(self, environment: str | None, field: str | None, problem: str) -> None:
        self.environment = environment
        self.field = field
        location = ".".join(part for part in (CONTEXT_KEY, environment, field) if part)
        super().__init__(f"{location}: {problem}")


def _key_specs(values: Any) -> tuple[str, ...]:
    if values is dataclasses.MISSING:
        raise FieldProblem(f"required: a list of key specs from {', '.join(KEY_SPECS)}")
    if not isinstance(values, list) or not values:
        raise FieldProblem(f"must be a non-empty list of key specs, got {values!r}")
    for value in values:
        if not isinstance(value, str):
            raise FieldProblem(f"must hold key spec names, got {value!r}")
        try:
            check_key_spec(value)
        except ValueError as error:
            raise FieldProblem(str(error)) from None
    if len(set(values)) != len(values):
        raise FieldProblem("lists a key spec twice")
    return tuple(values)


def _key_generations(values: Any) -> dict[str, tuple[KeyGeneration, ...]]:
    """Each spec's generations, oldest first; which are retired is decided against the day of synthesis
    afterwards (``_retire_generations``)."""
    if not isinstance(values, Mapping):
        raise FieldProblem(
            'must be an object of key spec to a list of generations, e.g. {"ECC_NIST_P256": '
            f'[{{"name": "2026-11"}}]}}, got {values!r}'
        )
    return {key_spec: _generations(f".{key_spec}", entries) for key_spec, entries in values.items()}


def _generations(path: str, entries: object) -> tuple[KeyGeneration, ...]:
    if not isinstance(entries, list) or not entries:
        raise FieldProblem(f"must be a non-empty list of generations, oldest first, got {entries!r}", path)
    generations = tuple(_generation(f"{path}[{index}]", entry) for index, entry in enumerate(entries))
    names = [generation.name for generation in generations]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise FieldProblem(f"names the generation {repeated!r} twice", path)
    return generations


def _generation(path: str, entry: object) -> KeyGeneration:
    if not isinstance(entry, Mapping):
        raise FieldProblem(f'must be an object such as {{"name": "2026-11"}}, got {entry!r}', path)
    unknown = sorted(set(entry) - set(GENERATION_FIELDS))
    if unknown:
        raise FieldProblem(f"unknown field (known: {', '.join(GENERATION_FIELDS)})", f"{path}.{unknown[0]}")
    name = entry.get("name")
    if not isinstance(name, str) or not GENERATION_NAME_PATTERN.fullmatch(name):
        raise FieldProblem(
            f"required: lower-case letters, digits and '-', at most 20, such as 2026-11; got {name!r}",
            f"{path}.name",
        )
    multi_region = entry.get("multi_region", False)
    if not isinstance(multi_region, bool):
        raise FieldProblem(f"must be true or false, got {multi_region!r}", f"{path}.multi_region")
    retire_after = entry.get("retire_after")
    if retire_after is None:
        return KeyGeneration(name=name, multi_region=multi_region)
    date = _iso_date(retire_after)
    if date is None:
        raise FieldProblem(f"must be a date YYYY-MM-DD, got {retire_after!r}", f"{path}.retire_after")
    return KeyGeneration(name=name, retire_after=date, multi_region=multi_region)


def _setting(read: Reader, description: str) -> dict[str, Any]:
    """An environment field's metadata: how its cdk.json value is read, and what it means in one line (the
    field's default is the dataclass default; a field without one is required)."""
    return {"read": read, "description": description}


@dataclass(frozen=True)
class EnvironmentConfig:
    """One environment. Defaults apply to fields the entry leaves out; ``docs/configuration.md`` has a row
    for each field (tests/infra/test_config.py keeps the two in step)."""

    name: str
    key_specs: tuple[str, ...] = dataclasses.field(
        metadata=_setting(_key_specs, "the key specs to create a key-agreement key for")
    )
    account: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(text(ACCOUNT_PATTERN, "a 12-digit AWS account id")),
            "the AWS account; absent means environment-agnostic",
        ),
    )
    region: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(text(REGION_PATTERN, "an AWS Region name such as eu-west-1")),
            "the home Region; absent means environment-agnostic",
        ),
    )
    admin_arns: tuple[str, ...] = dataclasses.field(
        default=(), metadata=_setting(principal_arns(), "IAM principals that administer the keys")
    )
    caller_arns: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_setting(principal_arns(exact=True), "roles or users allowed to invoke the derive function"),
    )
    public_key_reader_arns: tuple[str, ...] = dataclasses.field(
        default=(), metadata=_setting(principal_arns(), "principals allowed GetPublicKey and DescribeKey")
    )
    extra_deriver_arns: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_setting(
            principal_arns(exact=True), "roles or users allowed DeriveSharedSecret besides the function"
        ),
    )
    minimum_deletion_window_days: int = dataclasses.field(
        default=30,
        metadata=_setting(
            integer(MIN_PENDING_WINDOW_DAYS, MAX_PENDING_WINDOW_DAYS),
            "the shortest deletion window the key policy allows",
        ),
    )
    pending_window_days: int = dataclasses.field(
        default=30,
        metadata=_setting(
            integer(MIN_PENDING_WINDOW_DAYS, MAX_PENDING_WINDOW_DAYS),
            "the deletion window CloudFormation uses when it deletes a key",
        ),
    )
    removal_policy: RemovalPolicyName = dataclasses.field(
        default="retain",
        metadata=_setting(
            choice(("retain", "destroy")), "what deleting the stack does to its keys and buckets"
        ),
    )
    trail_mode: TrailMode = dataclasses.field(
        default="create",
        metadata=_setting(
            choice(("create", "existing")),
            "create a trail, or use an existing organisation trail's log group",
        ),
    )
    trail_log_group_name: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(text(LOG_GROUP_NAME_PATTERN, "a CloudWatch Logs log group name")),
            "the organisation trail's log group, with trail_mode existing",
        ),
    )
    existing_trail_records_derive_invokes: bool = dataclasses.field(
        default=False,
        metadata=_setting(
            flag, "confirms that the organisation trail records the derive function's invocations"
        ),
    )
    alarm_email: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(text(EMAIL_PATTERN, "an e-mail address")), "an e-mail subscription to the alarm topic"
        ),
    )
    reserved_concurrency: int | None = dataclasses.field(
        default=None,
        metadata=_setting(optional(integer(1, 1000)), "reserved executions of the derive function"),
    )
    network_isolation: bool = dataclasses.field(
        default=False,
        metadata=_setting(flag, "run the function in isolated subnets with interface endpoints"),
    )
    log_retention_days: int = dataclasses.field(
        default=365,
        metadata=_setting(choice(tuple(LOG_RETENTION)), "how long the log groups keep events, in days"),
    )
    termination_protection: bool = dataclasses.field(
        default=False, metadata=_setting(flag, "the stacks' termination protection")
    )
    allow_raw_secret: bool = dataclasses.field(
        default=False,
        metadata=_setting(flag, "let callers ask for the raw shared secret (output: shared_secret)"),
    )
    log_level: LogLevelName = dataclasses.field(
        default="INFO", metadata=_setting(choice(LOG_LEVELS), "the derive function's application log level")
    )
    public_key_reader_organization_id: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(text(ORGANIZATION_ID_PATTERN, "an AWS Organizations id (o-...)")),
            "an organisation whose principals may read the public keys",
        ),
    )
    public_key_reader_org_paths: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_setting(
            organization_paths, "organisational-unit paths whose principals may read the public keys"
        ),
    )
    replica_regions: tuple[str, ...] = dataclasses.field(
        default=(), metadata=_setting(regions, "Regions for replicas of the multi-Region keys")
    )
    key_generations: Mapping[str, tuple[KeyGeneration, ...]] = dataclasses.field(
        default_factory=dict,
        metadata=_setting(_key_generations, "per key spec, its generations oldest first"),
    )
    directory_publisher_arns: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_setting(
            principal_arns(exact=True), "roles or users that publish the signed public-key directory"
        ),
    )
    directory_max_age_days: int = dataclasses.field(
        default=30,
        metadata=_setting(
            integer(1, MAX_DIRECTORY_VALIDITY.days),
            "how long a published directory stays valid (its exp); publish again within it",
        ),
    )
    bootstrap_qualifier: str | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(
                text(
                    BOOTSTRAP_QUALIFIER_PATTERN,
                    "a CDK bootstrap qualifier: lower-case letters, digits and '-', at most 10 (it is "
                    "part of the bootstrap's role and bucket names)",
                )
            ),
            "the CDK bootstrap the environment deploys through",
        ),
    )
    trail_bucket_retention_days: int = dataclasses.field(
        default=365,
        metadata=_setting(
            integer(1, MAX_BUCKET_DAYS), "how long the created trail's bucket keeps log files, in days"
        ),
    )
    trail_object_lock_mode: ObjectLockModeName | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(choice(("compliance", "governance"))), "S3 Object Lock on the created trail's log files"
        ),
    )
    trail_object_lock_days: int | None = dataclasses.field(
        default=None,
        metadata=_setting(
            optional(integer(1, MAX_BUCKET_DAYS)), "the Object Lock default retention, in days"
        ),
    )
    dashboard: bool = dataclasses.field(
        default=True, metadata=_setting(flag, "the environment's Dashboard stack")
    )

    def generations(self, key_spec: str) -> tuple[KeyGeneration, ...]:
        """``key_spec``'s generations, oldest first: those of ``key_generations``, or the implicit one."""
        return self.key_generations.get(key_spec, (IMPLICIT_GENERATION,))

    def current_generation(self, key_spec: str) -> KeyGeneration:
        """The newest active generation: the one the spec's alias names and the function uses by default."""
        return [generation for generation in self.generations(key_spec) if not generation.retired][-1]

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]

    @property
    def cdk_removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.DESTROY if self.removal_policy == "destroy" else RemovalPolicy.RETAIN

    @property
    def resource_name_prefix(self) -> str:
        return f"kmsecdh-{self.name}"

    @property
    def key_alias_prefix(self) -> str:
        """What every KMS alias of the environment starts with: its key specs', generations', the directory's
        and the audit keys' (``alias/kmsecdh-<name>-``); the guardrails name the keys by it."""
        return f"alias/{self.resource_name_prefix}-"

    @property
    def deploy_targets(self) -> tuple[tuple[str | None, str | None, str | None], ...]:
        """(account, Region, bootstrap qualifier) of every Region the environment deploys to: whoever holds
        that bootstrap's CloudFormation execution role administers the environment's keys there."""
        return tuple(
            (self.account, region, self.bootstrap_qualifier)
            for region in (self.region, *self.replica_regions)
        )


SETTINGS: tuple[dataclasses.Field[Any], ...] = tuple(
    field for field in dataclasses.fields(EnvironmentConfig) if field.name != "name"
)
FIELDS: tuple[str, ...] = tuple(field.name for field in SETTINGS)


def default_of(field: dataclasses.Field[Any]) -> Any:
    """``field``'s default, or ``dataclasses.MISSING`` for a required field."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def parse_today(context: object) -> datetime.date:
    """The date generations are retired against: the ``kmsecdh:today`` context value, else today (UTC)."""
    if context is None:
        return datetime.datetime.now(datetime.UTC).date()
    date = _iso_date(context)
    if date is None:
        raise EnvironmentConfigError(
            None, None, f"context {TODAY_CONTEXT_KEY} must be a date YYYY-MM-DD, got {context!r}"
        )
    return date


def _iso_date(value: object) -> datetime.date | None:
    """``value`` as a date if it is exactly ``YYYY-MM-DD`` naming a real day, else None."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def parse_environments(context: object, today: datetime.date | None = None) -> dict[str, EnvironmentConfig]:
    """Parse the whole `environments` context value (a mapping of name to entry).

    A JSON string is accepted too: ``cdk deploy -c environments='{"dev": {...}}'`` passes one. ``today``
    (default: today, UTC) decides which generations are retired.
    """
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except json.JSONDecodeError as error:
            raise EnvironmentConfigError(None, None, f"not valid JSON: {error}") from None
    if not isinstance(context, Mapping) or not context:
        raise EnvironmentConfigError(None, None, "the cdk.json context value must be a non-empty object")
    today = today or parse_today(None)
    return {name: parse_environment(name, entry, today) for name, entry in context.items()}


def parse_environment(name: str, entry: object, today: datetime.date | None = None) -> EnvironmentConfig:
    if not isinstance(name, str) or not ENVIRONMENT_NAME_PATTERN.fullmatch(name):
        raise EnvironmentConfigError(
            str(name), None, "environment names are lower-case letters, digits and '-', at most 20"
        )
    if not isinstance(entry, Mapping):
        raise EnvironmentConfigError(name, None, f"must be an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise EnvironmentConfigError(name, unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    values = {}
    for field in SETTINGS:
        try:
            values[field.name] = field.metadata["read"](entry.get(field.name, default_of(field)))
        except FieldProblem as problem:
            raise EnvironmentConfigError(name, field.name + problem.subfield, problem.problem) from None
    config = _retire_generations(EnvironmentConfig(name=name, **values), today or parse_today(None))
    for rule in RULES:
        try:
            rule(config, frozenset(entry))
        except RuleViolation as violation:
            raise EnvironmentConfigError(name, violation.field, violation.problem) from None
    return config


def _retire_generations(config: EnvironmentConfig, today: datetime.date) -> EnvironmentConfig:
    """Retire the generations whose ``retire_after`` has passed on ``today``; each spec keeps one active."""
    generations = {}
    for key_spec, listed in config.key_generations.items():
        generations[key_spec] = tuple(
            dataclasses.replace(generation, retired=today > generation.retire_after)
            if generation.retire_after is not None
            else generation
            for generation in listed
        )
        if all(generation.retired for generation in generations[key_spec]):
            raise EnvironmentConfigError(
                config.name,
                f"key_generations.{key_spec}",
                f"every generation is retired on {today.isoformat()}: the spec would have no usable key; "
                "add a generation (or move a retire_after later)",
            )
    return dataclasses.replace(config, key_generations=generations)
