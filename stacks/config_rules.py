"""The rules between an environment's fields, each a small named function run once every field is read.

A rule gets the parsed environment and the fields its cdk.json entry gives (some fields are refused when
given at all, even with their default value), and raises ``RuleViolation`` naming the field to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stacks.config import EnvironmentConfig

# What an organisation trail must record for the audit's alarms on the derive function, which synth cannot
# check: the environment confirms it with existing_trail_records_derive_invokes.
_ORGANISATION_TRAIL_REQUIREMENT = (
    "must be true with trail_mode 'existing', confirming that the organisation trail delivering to "
    "trail_log_group_name records the derive function's invocations: an advanced event selector with "
    "eventCategory Equals [Data], resources.type Equals [AWS::Lambda::Function] and resources.ARN Equals "
    "(or StartsWith) the function's ARN (output DeriveFunctionArn of the KeyAgreement stack), besides all "
    "management events of this account with IAM's global events; without it no invocation is ever seen"
)
_TRAIL_BUCKET_FIELDS = ("trail_bucket_retention_days", "trail_object_lock_mode", "trail_object_lock_days")


class RuleViolation(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


Rule = Callable[["EnvironmentConfig", frozenset[str]], None]


def generations_of_listed_specs(config: EnvironmentConfig, given: frozenset[str]) -> None:
    for key_spec in config.key_generations:
        if key_spec not in config.key_specs:
            raise RuleViolation(
                f"key_generations.{key_spec}",
                f"{key_spec!r} is not in key_specs ({', '.join(config.key_specs)})",
            )


def pending_window_not_below_minimum(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if config.pending_window_days < config.minimum_deletion_window_days:
        raise RuleViolation(
            "pending_window_days",
            f"{config.pending_window_days} is below minimum_deletion_window_days "
            f"({config.minimum_deletion_window_days}): CloudFormation could not delete the key",
        )


def log_group_only_with_existing_trail(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if config.trail_mode == "existing" and config.trail_log_group_name is None:
        raise RuleViolation("trail_log_group_name", "required when trail_mode is 'existing'")
    if config.trail_mode == "create" and config.trail_log_group_name is not None:
        raise RuleViolation("trail_log_group_name", "only used when trail_mode is 'existing'")


def existing_trail_records_derive_invokes(config: EnvironmentConfig, given: frozenset[str]) -> None:
    field = "existing_trail_records_derive_invokes"
    if config.trail_mode == "existing" and not config.existing_trail_records_derive_invokes:
        raise RuleViolation(field, _ORGANISATION_TRAIL_REQUIREMENT)
    if config.trail_mode == "create" and config.existing_trail_records_derive_invokes:
        raise RuleViolation(
            field, "only used when trail_mode is 'existing' (the trail this app creates records them itself)"
        )


def no_extra_derivers_with_network_isolation(config: EnvironmentConfig, given: frozenset[str]) -> None:
    # Every deriver of a key shares its aws:SourceVpce condition, and the endpoint is reachable only from the
    # function's isolated VPC, so these principals could never derive.
    if config.network_isolation and config.extra_deriver_arns:
        raise RuleViolation(
            "extra_deriver_arns",
            "not allowed with network_isolation: derives are pinned to the function's KMS endpoint in its "
            "isolated VPC, which other principals cannot reach; invoke the derive function instead "
            "(caller_arns)",
        )


def organization_paths_of_the_organization(config: EnvironmentConfig, given: frozenset[str]) -> None:
    """Both conditions must hold, so a path of another organisation would admit nobody. (A path read by
    ``config_readers.organization_paths`` starts with its organisation's id.)"""
    organization_id = config.public_key_reader_organization_id
    if organization_id is None:
        return
    for path in config.public_key_reader_org_paths:
        path_organization = path.split("/", 1)[0]
        if path_organization != organization_id:
            raise RuleViolation(
                "public_key_reader_org_paths",
                f"{path!r} is a path of {path_organization}, not of public_key_reader_organization_id "
                f"{organization_id}: both conditions must hold, so nobody would be admitted",
            )


def replica_regions_beside_the_home_region(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if not config.replica_regions:
        return
    if config.account is None or config.region is None:
        raise RuleViolation(
            "replica_regions",
            "needs the environment's account and region: each replica Region gets a stack of its own, "
            "which refers to the primary keys across Regions",
        )
    if config.region in config.replica_regions:
        raise RuleViolation(
            "replica_regions", f"{config.region} is the home Region (region), where the primary keys are"
        )


def directory_max_age_with_publishers(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if "directory_max_age_days" in given and not config.directory_publisher_arns:
        raise RuleViolation(
            "directory_max_age_days", "only used with directory_publisher_arns (a published directory)"
        )


def trail_bucket_only_with_created_trail(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if config.trail_mode != "existing":
        return
    for field in _TRAIL_BUCKET_FIELDS:
        if field in given:
            raise RuleViolation(
                field, "only used when trail_mode is 'create' (the organisation trail's bucket is not ours)"
            )


def trail_bucket_outlasts_log_group(config: EnvironmentConfig, given: frozenset[str]) -> None:
    """The lifecycle never expires a log file before the trail's log group lets it go: the bucket is the
    evidence of last resort."""
    retention_days, log_retention_days = config.trail_bucket_retention_days, config.log_retention_days
    if config.trail_mode == "create" and retention_days < log_retention_days:
        raise RuleViolation(
            "trail_bucket_retention_days",
            f"{retention_days} is below log_retention_days ({log_retention_days}): the bucket would "
            "expire log files the trail's log group still holds",
        )


def object_lock_mode_and_days_together(config: EnvironmentConfig, given: frozenset[str]) -> None:
    if config.trail_object_lock_mode is None and config.trail_object_lock_days is not None:
        raise RuleViolation("trail_object_lock_days", "only used with trail_object_lock_mode")
    if config.trail_object_lock_mode is not None and config.trail_object_lock_days is None:
        raise RuleViolation("trail_object_lock_days", "required with trail_object_lock_mode")


def trail_bucket_outlasts_object_lock(config: EnvironmentConfig, given: frozenset[str]) -> None:
    retention_days, lock_days = config.trail_bucket_retention_days, config.trail_object_lock_days
    if lock_days is not None and retention_days < lock_days:
        raise RuleViolation(
            "trail_bucket_retention_days",
            f"{retention_days} is below trail_object_lock_days ({lock_days}): the lifecycle would try to "
            "expire log files that are still locked",
        )


def replicas_have_multi_region_keys(config: EnvironmentConfig, given: frozenset[str]) -> None:
    """Each spec's current generation is multi-Region, so every replica Region has a key of each spec.

    An existing key never becomes multi-Region: KMS fixes ``MultiRegion`` at creation, and CloudFormation
    would replace the key. The way is a new generation, which is what the message says.
    """
    if not config.replica_regions:
        return
    for key_spec in config.key_specs:
        generation = config.current_generation(key_spec)
        if generation.multi_region:
            continue
        replacement = (
            "KMS fixes MultiRegion when it creates a key, so making this key multi-Region would replace "
            "it (a new key and public key: every key peers derived with it changes)"
        )
        if generation.name is None:
            raise RuleViolation(
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
        index = config.generations(key_spec).index(generation)
        raise RuleViolation(
            "replica_regions",
            f"the current generation {generation.name!r} of {key_spec} (key_generations.{key_spec}"
            f"[{index}]) is single-Region, and a replica Region needs multi-Region keys: {replacement}. "
            f'Add a new generation after it, {{"name": "<new>", "multi_region": true}}, and retire '
            f"{generation.name!r} with retire_after once peers moved over; the replica Regions serve the "
            "multi-Region generations",
        )


# In the order the checks ran before they were separated, so an entry with several problems reports the same
# one first wherever a field's own reading does not decide.
RULES: tuple[Rule, ...] = (
    generations_of_listed_specs,
    pending_window_not_below_minimum,
    log_group_only_with_existing_trail,
    existing_trail_records_derive_invokes,
    no_extra_derivers_with_network_isolation,
    organization_paths_of_the_organization,
    replica_regions_beside_the_home_region,
    directory_max_age_with_publishers,
    trail_bucket_only_with_created_trail,
    trail_bucket_outlasts_log_group,
    object_lock_mode_and_days_together,
    trail_bucket_outlasts_object_lock,
    replicas_have_multi_region_keys,
)
