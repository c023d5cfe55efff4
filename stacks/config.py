"""The `environments` context of cdk.json, parsed and validated before any construct is built.

Every problem is reported as one ``EnvironmentConfigError`` naming the environment and the field, e.g.
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
from kmsecdh_cdk.principals import ARN_WILDCARDS, check_exact_principal_arn

CONTEXT_KEY = "environments"
TODAY_CONTEXT_KEY = "kmsecdh:today"
"""Context value ``YYYY-MM-DD`` standing in for today's date (UTC) when generations' ``retire_after`` are
compared: tests synthesize each step of the rotation runbook with it, an operator can preview a date."""

ACCOUNT_PATTERN = re.compile(r"\d{12}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
# IAM roles and users (with optional path) and account roots, in any partition.
PRINCIPAL_ARN_PATTERN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:"
    r"(root|(role|user)/([\x21-\x7e]+/)?[\w+=,.@-]{1,64})"
)
ENVIRONMENT_NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
# A generation's name ends its alias (alias/kmsecdh-<environment>-p256-<generation>), e.g. 2026-11.
GENERATION_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
GENERATION_FIELDS = ("name", "retire_after", "multi_region")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOG_GROUP_NAME_PATTERN = re.compile(r"[\w#./-]{1,512}")
# AWS Organizations: an organisation id, and an organisation entity path as aws:PrincipalOrgPaths carries it
# (o-<id>/r-<root>/ou-<root>-<ou>/..., always ending with '/'); a trailing '*' also admits every OU below.
ORGANIZATION_ID_PATTERN = re.compile(r"o-[a-z0-9]{10,32}")
ORGANIZATION_PATH_PATTERN = re.compile(
    r"(o-[a-z0-9]{10,32})/r-[0-9a-z]{4,32}/(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}/)*\*?"
)
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

# What an organisation trail must record for the audit's alarms on the derive function, which synth cannot
# check: the environment confirms it with existing_trail_records_derive_invokes.
_ORGANISATION_TRAIL_REQUIREMENT = (
    "must be true with trail_mode 'existing', confirming that the organisation trail delivering to "
    "trail_log_group_name records the derive function's invocations: an advanced event selector with "
    "eventCategory Equals [Data], resources.type Equals [AWS::Lambda::Function] and resources.ARN Equals "
    "(or StartsWith) the function's ARN (output DeriveFunctionArn of the KeyAgreement stack), besides all "
    "management events of this account with IAM's global events; without it no invocation is ever seen"
)

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


@dataclass(frozen=True)
class EnvironmentConfig:
    """One environment. Defaults apply to fields the entry leaves out."""

    name: str
    key_specs: tuple[str, ...]
    account: str | None = None
    region: str | None = None
    admin_arns: tuple[str, ...] = ()
    caller_arns: tuple[str, ...] = ()
    public_key_reader_arns: tuple[str, ...] = ()
    extra_deriver_arns: tuple[str, ...] = ()
    minimum_deletion_window_days: int = 30
    pending_window_days: int = 30
    removal_policy: RemovalPolicyName = "retain"
    trail_mode: TrailMode = "create"
    trail_log_group_name: str | None = None
    existing_trail_records_derive_invokes: bool = False
    alarm_email: str | None = None
    reserved_concurrency: int | None = None
    network_isolation: bool = False
    log_retention_days: int = 365
    termination_protection: bool = False
    allow_raw_secret: bool = False
    log_level: LogLevelName = "INFO"
    public_key_reader_organization_id: str | None = None
    public_key_reader_org_paths: tuple[str, ...] = ()
    replica_regions: tuple[str, ...] = ()
    key_generations: Mapping[str, tuple[KeyGeneration, ...]] = dataclasses.field(default_factory=dict)
    directory_publisher_arns: tuple[str, ...] = ()
    # How long a published directory stays valid (its exp); the publisher must republish within it.
    directory_max_age_days: int = 30
    bootstrap_qualifier: str | None = None
    trail_bucket_retention_days: int = 365
    trail_object_lock_mode: ObjectLockModeName | None = None
    trail_object_lock_days: int | None = None
    dashboard: bool = True

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
    def deploy_targets(self) -> tuple[tuple[str | None, str | None, str | None], ...]:
        """(account, Region, bootstrap qualifier) of every Region the environment deploys to: whoever holds
        that bootstrap's CloudFormation execution role administers the environment's keys there."""
        return tuple(
            (self.account, region, self.bootstrap_qualifier)
            for region in (self.region, *self.replica_regions)
        )


FIELDS: tuple[str, ...] = tuple(field for field in EnvironmentConfig.__dataclass_fields__ if field != "name")


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
    reader = _Reader(name, entry)

    account = reader.optional_str("account", ACCOUNT_PATTERN, "a 12-digit AWS account id")
    region = reader.optional_str("region", REGION_PATTERN, "an AWS Region name such as eu-west-1")
    key_specs = reader.key_specs()
    key_generations = reader.key_generations(key_specs, today or parse_today(None))
    minimum_window = reader.int_in_range(
        "minimum_deletion_window_days", MIN_PENDING_WINDOW_DAYS, MAX_PENDING_WINDOW_DAYS
    )
    pending_window = reader.int_in_range(
        "pending_window_days", MIN_PENDING_WINDOW_DAYS, MAX_PENDING_WINDOW_DAYS
    )
    if pending_window < minimum_window:
        raise EnvironmentConfigError(
            name,
            "pending_window_days",
            f"{pending_window} is below minimum_deletion_window_days ({minimum_window}): "
            "CloudFormation could not delete the key",
        )
    trail_mode = reader.choice("trail_mode", ("create", "existing"))
    trail_log_group_name = reader.optional_str(
        "trail_log_group_name", LOG_GROUP_NAME_PATTERN, "a CloudWatch Logs log group name"
    )
    if trail_mode == "existing" and trail_log_group_name is None:
        raise EnvironmentConfigError(name, "trail_log_group_name", "required when trail_mode is 'existing'")
    if trail_mode == "create" and trail_log_group_name is not None:
        raise EnvironmentConfigError(name, "trail_log_group_name", "only used when trail_mode is 'existing'")
    records_derive_invokes = reader.bool("existing_trail_records_derive_invokes")
    if trail_mode == "existing" and not records_derive_invokes:
        raise EnvironmentConfigError(
            name, "existing_trail_records_derive_invokes", _ORGANISATION_TRAIL_REQUIREMENT
        )
    if trail_mode == "create" and records_derive_invokes:
        raise EnvironmentConfigError(
            name,
            "existing_trail_records_derive_invokes",
            "only used when trail_mode is 'existing' (the trail this app creates records them itself)",
        )
    reserved_concurrency = entry.get("reserved_concurrency")
    if reserved_concurrency is not None:
        reserved_concurrency = reader.int_in_range("reserved_concurrency", 1, 1000)
    network_isolation = reader.bool("network_isolation")
    extra_deriver_arns = reader.principal_arns("extra_deriver_arns", exact=True)
    if network_isolation and extra_deriver_arns:
        # Every deriver of a key shares its aws:SourceVpce condition, and the endpoint is reachable only
        # from the function's isolated VPC, so these principals could never derive.
        raise EnvironmentConfigError(
            name,
            "extra_deriver_arns",
            "not allowed with network_isolation: derives are pinned to the function's KMS endpoint in its "
            "isolated VPC, which other principals cannot reach; invoke the derive function instead "
            "(caller_arns)",
        )

    organization_id = reader.optional_str(
        "public_key_reader_organization_id", ORGANIZATION_ID_PATTERN, "an AWS Organizations id (o-...)"
    )
    org_paths = reader.organization_paths("public_key_reader_org_paths", organization_id)
    replica_regions = reader.replica_regions(account, region)
    directory_publisher_arns = reader.principal_arns("directory_publisher_arns", exact=True)
    directory_max_age_days = reader.int_in_range("directory_max_age_days", 1, MAX_DIRECTORY_VALIDITY.days)
    if "directory_max_age_days" in entry and not directory_publisher_arns:
        raise EnvironmentConfigError(
            name, "directory_max_age_days", "only used with directory_publisher_arns (a published directory)"
        )
    bootstrap_qualifier = reader.optional_str(
        "bootstrap_qualifier",
        BOOTSTRAP_QUALIFIER_PATTERN,
        "a CDK bootstrap qualifier: lower-case letters, digits and '-', at most 10 (it is part of the "
        "bootstrap's role and bucket names)",
    )
    log_retention_days = reader.choice("log_retention_days", tuple(LOG_RETENTION))
    bucket_retention_days, object_lock_mode, object_lock_days = reader.trail_bucket(
        trail_mode, log_retention_days
    )
    if replica_regions:
        reader.check_replicated(key_specs, key_generations)

    return EnvironmentConfig(
        name=name,
        account=account,
        region=region,
        key_specs=key_specs,
        admin_arns=reader.principal_arns("admin_arns"),
        caller_arns=reader.principal_arns("caller_arns", exact=True),
        public_key_reader_arns=reader.principal_arns("public_key_reader_arns"),
        extra_deriver_arns=extra_deriver_arns,
        minimum_deletion_window_days=minimum_window,
        pending_window_days=pending_window,
        removal_policy=reader.choice("removal_policy", ("retain", "destroy")),
        trail_mode=trail_mode,
        trail_log_group_name=trail_log_group_name,
        existing_trail_records_derive_invokes=records_derive_invokes,
        alarm_email=reader.optional_str("alarm_email", EMAIL_PATTERN, "an e-mail address"),
        reserved_concurrency=reserved_concurrency,
        network_isolation=network_isolation,
        log_retention_days=log_retention_days,
        termination_protection=reader.bool("termination_protection"),
        allow_raw_secret=reader.bool("allow_raw_secret"),
        log_level=reader.choice("log_level", LOG_LEVELS),
        public_key_reader_organization_id=organization_id,
        public_key_reader_org_paths=org_paths,
        replica_regions=replica_regions,
        key_generations=key_generations,
        directory_publisher_arns=directory_publisher_arns,
        directory_max_age_days=directory_max_age_days,
        bootstrap_qualifier=bootstrap_qualifier,
        trail_bucket_retention_days=bucket_retention_days,
        trail_object_lock_mode=object_lock_mode,
        trail_object_lock_days=object_lock_days,
        dashboard=reader.bool("dashboard"),
    )


class _Reader:
    """Typed access to one entry's fields; a missing field gives the dataclass default."""

    def __init__(self, environment: str, entry: Mapping[str, Any]) -> None:
        self._environment = environment
        self._entry = entry

    def _error(self, field: str, problem: str) -> EnvironmentConfigError:
        return EnvironmentConfigError(self._environment, field, problem)

    def _get(self, field: str) -> Any:
        return self._entry.get(field, EnvironmentConfig.__dataclass_fields__[field].default)

    def optional_str(self, field: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self._get(field)
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self._error(field, f"must be {what}, got {value!r}")
        return value

    def bool(self, field: str) -> bool:
        value = self._get(field)
        if not isinstance(value, bool):
            raise self._error(field, f"must be true or false, got {value!r}")
        return value

    def int_in_range(self, field: str, low: int, high: int) -> int:
        value = self._get(field)
        # bool is an int subclass; `true` is not a number of days.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error(field, f"must be an integer, got {value!r}")
        if not low <= value <= high:
            raise self._error(field, f"must be {low}..{high}, got {value}")
        return value

    def choice(self, field: str, choices: tuple[Any, ...]) -> Any:
        value = self._get(field)
        if isinstance(value, bool) or value not in choices:
            raise self._error(field, f"must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value

    def principal_arns(self, field: str, *, exact: bool = False) -> tuple[str, ...]:
        """IAM principal ARNs, never with a wildcard; ``exact`` also refuses an account root (derivers and
        callers, see kmsecdh_cdk.principals)."""
        values = self._get(field)
        if not isinstance(values, list | tuple):
            raise self._error(field, f"must be a list of IAM principal ARNs, got {values!r}")
        for value in values:
            if not isinstance(value, str) or not PRINCIPAL_ARN_PATTERN.fullmatch(value):
                raise self._error(
                    field,
                    f"{value!r} is not an IAM role, user or account-root ARN (arn:aws:iam::<account>:...)",
                )
            try:
                if exact:
                    check_exact_principal_arn(value)
                elif any(wildcard in value for wildcard in ARN_WILDCARDS):
                    raise ValueError(f"{value!r} holds '*' or '?': a policy principal is never a pattern")
            except ValueError as error:
                raise self._error(field, str(error)) from None
        if len(set(values)) != len(values):
            raise self._error(field, "lists a principal twice")
        return tuple(values)

    def organization_paths(self, field: str, organization_id: str | None) -> tuple[str, ...]:
        """Organisation entity paths for ``aws:PrincipalOrgPaths``; with an organisation id, of that one."""
        values = self._get(field)
        if not isinstance(values, list | tuple):
            raise self._error(field, f"must be a list of organisation paths, got {values!r}")
        for value in values:
            match = ORGANIZATION_PATH_PATTERN.fullmatch(value) if isinstance(value, str) else None
            if match is None:
                raise self._error(
                    field,
                    f"{value!r} is not an organisation path such as o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ "
                    "(ending with '/', or '/*' to include every OU below it)",
                )
            if organization_id is not None and match.group(1) != organization_id:
                raise self._error(
                    field,
                    f"{value!r} is a path of {match.group(1)}, not of public_key_reader_organization_id "
                    f"{organization_id}: both conditions must hold, so nobody would be admitted",
                )
        if len(set(values)) != len(values):
            raise self._error(field, "lists a path twice")
        return tuple(values)

    def trail_bucket(
        self, trail_mode: TrailMode, log_retention_days: int
    ) -> tuple[int, ObjectLockModeName | None, int | None]:
        """The created trail's bucket: how long it keeps log files, and its Object Lock (mode, days).

        The lifecycle never expires a log file before the trail's log group or the lock lets it go: the
        bucket is the evidence of last resort.
        """
        fields = ("trail_bucket_retention_days", "trail_object_lock_mode", "trail_object_lock_days")
        if trail_mode == "existing":
            given = [field for field in fields if field in self._entry]
            if given:
                raise self._error(
                    given[0],
                    "only used when trail_mode is 'create' (the organisation trail's bucket is not ours)",
                )
            return self._get("trail_bucket_retention_days"), None, None
        retention_days = self.int_in_range("trail_bucket_retention_days", 1, MAX_BUCKET_DAYS)
        if retention_days < log_retention_days:
            raise self._error(
                "trail_bucket_retention_days",
                f"{retention_days} is below log_retention_days ({log_retention_days}): the bucket would "
                "expire log files the trail's log group still holds",
            )
        mode = self._get("trail_object_lock_mode")
        if mode is None:
            if self._get("trail_object_lock_days") is not None:
                raise self._error("trail_object_lock_days", "only used with trail_object_lock_mode")
            return retention_days, None, None
        mode = self.choice("trail_object_lock_mode", ("compliance", "governance"))
        if self._get("trail_object_lock_days") is None:
            raise self._error("trail_object_lock_days", "required with trail_object_lock_mode")
        lock_days = self.int_in_range("trail_object_lock_days", 1, MAX_BUCKET_DAYS)
        if retention_days < lock_days:
            raise self._error(
                "trail_bucket_retention_days",
                f"{retention_days} is below trail_object_lock_days ({lock_days}): the lifecycle would try to "
                "expire log files that are still locked",
            )
        return retention_days, mode, lock_days

    def replica_regions(self, account: str | None, region: str | None) -> tuple[str, ...]:
        """The Regions of the multi-Region keys' replicas: other than the home Region, each once."""
        field = "replica_regions"
        values = self._get(field)
        if not isinstance(values, list | tuple):
            raise self._error(field, f"must be a list of AWS Region names, got {values!r}")
        if values and (account is None or region is None):
            raise self._error(
                field,
                "needs the environment's account and region: each replica Region gets a stack of its own, "
                "which refers to the primary keys across Regions",
            )
        for value in values:
            if not isinstance(value, str) or not REGION_PATTERN.fullmatch(value):
                raise self._error(field, f"must hold AWS Region names such as eu-west-1, got {value!r}")
            if value == region:
                raise self._error(field, f"{value} is the home Region (region), where the primary keys are")
        if len(set(values)) != len(values):
            raise self._error(field, "lists a Region twice")
        return tuple(values)

    def check_replicated(
        self,
        key_specs: tuple[str, ...],
        key_generations: Mapping[str, tuple[KeyGeneration, ...]],
    ) -> None:
        """Each spec's current generation is multi-Region, so every replica Region has a key of each spec.

        An existing key never becomes multi-Region: KMS fixes ``MultiRegion`` at creation, and CloudFormation
        would replace the key. The way is a new generation, which is what the message says.
        """
        for key_spec in key_specs:
            generations = key_generations.get(key_spec, (IMPLICIT_GENERATION,))
            generation = [generation for generation in generations if not generation.retired][-1]
            if generation.multi_region:
                continue
            replacement = (
                "KMS fixes MultiRegion when it creates a key, so making this key multi-Region would replace "
                "it (a new key and public key: every key peers derived with it changes)"
            )
            if generation.name is None:
                raise self._error(
                    "replica_regions",
                    f"the key of {key_spec} (the one key_specs made, no key_generations entry) is "
                    f"single-Region, and a replica Region needs multi-Region keys: {replacement}. List it as "
                    "the first generation and add a multi-Region one after it: "
                    f'"key_generations": {{"{key_spec}": [{{"name": "<existing>"}}, {{"name": "<new>", '
                    '"multi_region": true}]} (the first keeps the key as it is; retire it with retire_after '
                    "once peers moved over). A key already deployed multi-Region is declared so: "
                    f'[{{"name": "<existing>", "multi_region": true}}]; a new environment makes its first '
                    "generation multi-Region from the start the same way",
                )
            index = generations.index(generation)
            raise self._error(
                "replica_regions",
                f"the current generation {generation.name!r} of {key_spec} (key_generations.{key_spec}"
                f"[{index}]) is single-Region, and a replica Region needs multi-Region keys: {replacement}. "
                f'Add a new generation after it, {{"name": "<new>", "multi_region": true}}, and retire '
                f"{generation.name!r} with retire_after once peers moved over; the replica Regions serve the "
                "multi-Region generations",
            )

    def key_specs(self) -> tuple[str, ...]:
        field = "key_specs"
        if field not in self._entry:
            raise self._error(field, f"required: a list of key specs from {', '.join(KEY_SPECS)}")
        values = self._entry[field]
        if not isinstance(values, list) or not values:
            raise self._error(field, f"must be a non-empty list of key specs, got {values!r}")
        for value in values:
            if not isinstance(value, str):
                raise self._error(field, f"must hold key spec names, got {value!r}")
            try:
                check_key_spec(value)
            except ValueError as error:
                raise self._error(field, str(error)) from None
        if len(set(values)) != len(values):
            raise self._error(field, "lists a key spec twice")
        return tuple(values)

    def key_generations(
        self, key_specs: tuple[str, ...], today: datetime.date
    ) -> dict[str, tuple[KeyGeneration, ...]]:
        """Each listed spec's generations, oldest first, with at least one still active on ``today``."""
        field = "key_generations"
        values = self._entry.get(field, {})
        if not isinstance(values, Mapping):
            raise self._error(
                field,
                'must be an object of key spec to a list of generations, e.g. {"ECC_NIST_P256": '
                f'[{{"name": "2026-11"}}]}}, got {values!r}',
            )
        generations = {}
        for key_spec, entries in values.items():
            if key_spec not in key_specs:
                raise self._error(
                    f"{field}.{key_spec}", f"{key_spec!r} is not in key_specs ({', '.join(key_specs)})"
                )
            generations[key_spec] = self._generations(f"{field}.{key_spec}", entries, today)
        return generations

    def _generations(self, field: str, entries: object, today: datetime.date) -> tuple[KeyGeneration, ...]:
        if not isinstance(entries, list) or not entries:
            raise self._error(
                field, f"must be a non-empty list of generations, oldest first, got {entries!r}"
            )
        generations = tuple(
            self._generation(f"{field}[{index}]", entry, today) for index, entry in enumerate(entries)
        )
        names = [generation.name for generation in generations]
        if len(set(names)) != len(names):
            repeated = next(name for name in names if names.count(name) > 1)
            raise self._error(field, f"names the generation {repeated!r} twice")
        if all(generation.retired for generation in generations):
            raise self._error(
                field,
                f"every generation is retired on {today.isoformat()}: the spec would have no usable key; "
                "add a generation (or move a retire_after later)",
            )
        return generations

    def _generation(self, field: str, entry: object, today: datetime.date) -> KeyGeneration:
        if not isinstance(entry, Mapping):
            raise self._error(field, f'must be an object such as {{"name": "2026-11"}}, got {entry!r}')
        unknown = sorted(set(entry) - set(GENERATION_FIELDS))
        if unknown:
            raise self._error(
                f"{field}.{unknown[0]}", f"unknown field (known: {', '.join(GENERATION_FIELDS)})"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not GENERATION_NAME_PATTERN.fullmatch(name):
            raise self._error(
                f"{field}.name",
                f"required: lower-case letters, digits and '-', at most 20, such as 2026-11; got {name!r}",
            )
        multi_region = entry.get("multi_region", False)
        if not isinstance(multi_region, bool):
            raise self._error(f"{field}.multi_region", f"must be true or false, got {multi_region!r}")
        retire_after = entry.get("retire_after")
        if retire_after is None:
            return KeyGeneration(name=name, multi_region=multi_region)
        date = _iso_date(retire_after)
        if date is None:
            raise self._error(f"{field}.retire_after", f"must be a date YYYY-MM-DD, got {retire_after!r}")
        return KeyGeneration(name=name, retire_after=date, retired=today > date, multi_region=multi_region)
