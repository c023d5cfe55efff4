"""The `environments` context: each kind of bad entry fails with a message naming environment and field."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.application import create_app
from stacks.config import (
    FIELDS,
    IMPLICIT_GENERATION,
    SETTINGS,
    EnvironmentConfigError,
    default_of,
    parse_environment,
    parse_environments,
    parse_today,
)
from tests.infra.conftest import load_context

VALID: dict[str, Any] = {
    "key_specs": ["ECC_NIST_P256"],
    "admin_arns": ["arn:aws:iam::111111111111:role/KeyAdmin"],
}


ROOT = "arn:aws:iam::111111111111:root"
ROLE = "arn:aws:iam::111111111111:role"


def entry(**changes: Any) -> dict[str, Any]:
    value = copy.deepcopy(VALID)
    value.update(changes)
    return value


def test_shipped_environments_parse() -> None:
    environments = parse_environments(load_context()["environments"])
    assert sorted(environments) == ["dev", "prod", "staging"]
    assert environments["prod"].network_isolation is True
    assert environments["prod"].removal_policy == "retain"


def test_defaults_apply_to_absent_fields() -> None:
    config = parse_environment("dev", VALID)
    assert config.account is None
    assert config.region is None
    assert config.minimum_deletion_window_days == 30
    assert config.pending_window_days == 30
    assert config.removal_policy == "retain"
    assert config.trail_mode == "create"
    assert config.network_isolation is False
    assert config.log_retention_days == 365
    assert config.allow_raw_secret is False
    assert config.log_level == "INFO"
    assert config.directory_max_age_days == 30


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"key_specs": ["ECC_NIST_P257"]}, "key_specs", "key spec 'ECC_NIST_P257' cannot do key agreement"),
        ({"log_level": "debug"}, "log_level", "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ({"log_level": "WARNING"}, "log_level", "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ({"key_specs": ["RSA_2048"]}, "key_specs", "key spec 'RSA_2048' cannot do key agreement"),
        ({"key_specs": ["SYMMETRIC_DEFAULT"]}, "key_specs", "cannot do key agreement"),
        ({"key_specs": ["ECC_SECG_P256K1"]}, "key_specs", "cannot do key agreement"),
        ({"key_specs": ["SM2"]}, "key_specs", "key spec SM2 is not supported"),
        ({"key_specs": ["SM2"], "region": "cn-north-1"}, "key_specs", "key spec SM2 is not supported"),
        ({"key_specs": []}, "key_specs", "non-empty list"),
        ({"key_specs": "ECC_NIST_P256"}, "key_specs", "non-empty list"),
        ({"key_specs": ["ECC_NIST_P256", "ECC_NIST_P256"]}, "key_specs", "twice"),
        ({"account": "12345678901"}, "account", "12-digit AWS account id"),
        ({"account": 111111111111}, "account", "12-digit AWS account id"),
        ({"region": "eu-west"}, "region", "AWS Region name"),
        ({"region": "EU-WEST-1"}, "region", "AWS Region name"),
        ({"admin_arns": ["arn:aws:iam::1111:role/KeyAdmin"]}, "admin_arns", "not an IAM role, user"),
        ({"admin_arns": ["arn:aws:s3:::bucket"]}, "admin_arns", "not an IAM role, user"),
        ({"admin_arns": "arn:aws:iam::111111111111:role/KeyAdmin"}, "admin_arns", "must be a list"),
        ({"caller_arns": ["*"]}, "caller_arns", "not an IAM role, user"),
        ({"public_key_reader_arns": [42]}, "public_key_reader_arns", "not an IAM role, user"),
        ({"caller_arns": ["arn:aws:iam::111111111111:root"]}, "caller_arns", "is an account root"),
        (
            {"extra_deriver_arns": ["arn:aws:iam::111111111111:root"]},
            "extra_deriver_arns",
            "is an account root",
        ),
        ({"caller_arns": ["arn:aws:iam::111111111111:role/team*/app"]}, "caller_arns", "holds '*' or '?'"),
        (
            {"extra_deriver_arns": ["arn:aws:iam::111111111111:role/te?m/batch"]},
            "extra_deriver_arns",
            "holds '*' or '?'",
        ),
        ({"admin_arns": ["arn:aws:iam::111111111111:role/*/admin"]}, "admin_arns", "holds '*' or '?'"),
        (
            {"network_isolation": True, "extra_deriver_arns": ["arn:aws:iam::111111111111:role/batch"]},
            "extra_deriver_arns",
            "not allowed with network_isolation",
        ),
        (
            {"extra_deriver_arns": ["arn:aws:iam::111111111111:role/*"]},
            "extra_deriver_arns",
            "not an IAM role",
        ),
        ({"minimum_deletion_window_days": 6}, "minimum_deletion_window_days", "must be 7..30, got 6"),
        ({"minimum_deletion_window_days": 31}, "minimum_deletion_window_days", "must be 7..30, got 31"),
        ({"minimum_deletion_window_days": "30"}, "minimum_deletion_window_days", "must be an integer"),
        ({"minimum_deletion_window_days": True}, "minimum_deletion_window_days", "must be an integer"),
        ({"pending_window_days": 45}, "pending_window_days", "must be 7..30, got 45"),
        (
            {"minimum_deletion_window_days": 14, "pending_window_days": 7},
            "pending_window_days",
            "below minimum_deletion_window_days",
        ),
        ({"removal_policy": "snapshot"}, "removal_policy", "must be one of retain, destroy"),
        ({"trail_mode": "none"}, "trail_mode", "must be one of create, existing"),
        ({"trail_mode": "existing"}, "trail_log_group_name", "required when trail_mode is 'existing'"),
        ({"trail_log_group_name": "org-trail"}, "trail_log_group_name", "only used when trail_mode"),
        (
            {"trail_mode": "existing", "trail_log_group_name": "org-trail"},
            "existing_trail_records_derive_invokes",
            "resources.type Equals [AWS::Lambda::Function] and resources.ARN Equals",
        ),
        (
            {
                "trail_mode": "existing",
                "trail_log_group_name": "org-trail",
                "existing_trail_records_derive_invokes": False,
            },
            "existing_trail_records_derive_invokes",
            "must be true with trail_mode 'existing'",
        ),
        (
            {
                "trail_mode": "existing",
                "trail_log_group_name": "org-trail",
                "existing_trail_records_derive_invokes": "yes",
            },
            "existing_trail_records_derive_invokes",
            "must be true or false",
        ),
        (
            {"existing_trail_records_derive_invokes": True},
            "existing_trail_records_derive_invokes",
            "only used when trail_mode is 'existing'",
        ),
        ({"alarm_email": "security"}, "alarm_email", "e-mail address"),
        ({"reserved_concurrency": 0}, "reserved_concurrency", "must be 1..1000, got 0"),
        ({"network_isolation": "yes"}, "network_isolation", "must be true or false"),
        ({"log_retention_days": 100}, "log_retention_days", "must be one of 1, 3, 5"),
        ({"termination_protection": 1}, "termination_protection", "must be true or false"),
        ({"key_spec": ["ECC_NIST_P256"]}, "key_spec", "unknown field"),
        (
            {"public_key_reader_organization_id": "o-short"},
            "public_key_reader_organization_id",
            "must be an AWS Organizations id (o-...)",
        ),
        (
            {"public_key_reader_organization_id": "O-A1B2C3D4E5"},
            "public_key_reader_organization_id",
            "AWS Organizations id",
        ),
        (
            {"public_key_reader_organization_id": "o-a1b2c3d4e5*"},
            "public_key_reader_organization_id",
            "AWS Organizations id",
        ),
        (
            {"public_key_reader_org_paths": "o-a1b2c3d4e5/r-ab12/"},
            "public_key_reader_org_paths",
            "must be a list of organisation paths",
        ),
        (
            {"public_key_reader_org_paths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111"]},
            "public_key_reader_org_paths",
            "is not an organisation path",
        ),
        (
            {"public_key_reader_org_paths": ["o-a1b2c3d4e5/*"]},
            "public_key_reader_org_paths",
            "is not an organisation path",
        ),
        (
            {"public_key_reader_org_paths": ["*"]},
            "public_key_reader_org_paths",
            "is not an organisation path",
        ),
        (
            {"public_key_reader_org_paths": ["o-a1b2c3d4e5/r-ab12/", "o-a1b2c3d4e5/r-ab12/"]},
            "public_key_reader_org_paths",
            "lists a path twice",
        ),
        (
            {
                "public_key_reader_organization_id": "o-a1b2c3d4e5",
                "public_key_reader_org_paths": ["o-zzzzzzzzzz/r-ab12/"],
            },
            "public_key_reader_org_paths",
            "not of public_key_reader_organization_id o-a1b2c3d4e5",
        ),
        ({"replica_regions": ["eu-west-1"]}, "replica_regions", "needs the environment's account and region"),
        (
            {"replica_regions": ["eu-west-1"], "region": "eu-central-1"},
            "replica_regions",
            "needs the environment's account and region",
        ),
        (
            {"replica_regions": ["eu-central-1"], "region": "eu-central-1", "account": "111111111111"},
            "replica_regions",
            "is the home Region",
        ),
        (
            {"replica_regions": ["eu-west"], "region": "eu-central-1", "account": "111111111111"},
            "replica_regions",
            "AWS Region names",
        ),
        (
            {
                "replica_regions": ["eu-west-1", "eu-west-1"],
                "region": "eu-central-1",
                "account": "111111111111",
            },
            "replica_regions",
            "lists a Region twice",
        ),
        ({"replica_regions": "eu-west-1"}, "replica_regions", "must be a list of AWS Region names"),
        ({"key_generations": ["2026-11"]}, "key_generations", "must be an object of key spec"),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "2026-11", "multi_region": "yes"}]}},
            "key_generations.ECC_NIST_P256[0].multi_region",
            "must be true or false",
        ),
        (
            {"replica_regions": ["eu-west-1"], "region": "eu-central-1", "account": "111111111111"},
            "replica_regions",
            "the key of ECC_NIST_P256 (the one key_specs made, no key_generations entry) is single-Region",
        ),
        ({"directory_publisher_arns": [ROOT]}, "directory_publisher_arns", "is an account root"),
        ({"directory_publisher_arns": [f"{ROLE}/app-*"]}, "directory_publisher_arns", "is not an IAM role"),
        (
            {"key_generations": {"ECC_NIST_P384": [{"name": "2026-11"}]}},
            "key_generations.ECC_NIST_P384",
            "'ECC_NIST_P384' is not in key_specs (ECC_NIST_P256)",
        ),
        ({"key_generations": {"ECC_NIST_P256": []}}, "key_generations.ECC_NIST_P256", "non-empty list"),
        (
            {"key_generations": {"ECC_NIST_P256": ["2026-11"]}},
            "key_generations.ECC_NIST_P256[0]",
            "must be an object",
        ),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "2026-11", "retire": "2027-01-01"}]}},
            "key_generations.ECC_NIST_P256[0].retire",
            "unknown field (known: name, retire_after, multi_region)",
        ),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "2026-11"}, {"retire_after": "2027-01-01"}]}},
            "key_generations.ECC_NIST_P256[1].name",
            "required: lower-case letters, digits and '-'",
        ),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "Nov/2026"}]}},
            "key_generations.ECC_NIST_P256[0].name",
            "got 'Nov/2026'",
        ),
        (
            {
                "key_generations": {
                    "ECC_NIST_P256": [{"name": "a", "retire_after": "2027-02-30"}, {"name": "b"}]
                }
            },
            "key_generations.ECC_NIST_P256[0].retire_after",
            "must be a date YYYY-MM-DD, got '2027-02-30'",
        ),
        (
            {
                "key_generations": {
                    "ECC_NIST_P256": [{"name": "a", "retire_after": "20270228"}, {"name": "b"}]
                }
            },
            "key_generations.ECC_NIST_P256[0].retire_after",
            "must be a date YYYY-MM-DD",
        ),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "a"}, {"name": "a"}]}},
            "key_generations.ECC_NIST_P256",
            "names the generation 'a' twice",
        ),
        (
            {"key_generations": {"ECC_NIST_P256": [{"name": "a", "retire_after": "2020-01-01"}]}},
            "key_generations.ECC_NIST_P256",
            "every generation is retired on ",
        ),
        (
            {"directory_publisher_arns": [f"{ROLE}/Publisher"], "directory_max_age_days": 366},
            "directory_max_age_days",
            "must be 1..365, got 366",
        ),
        (
            {"directory_publisher_arns": [f"{ROLE}/Publisher"], "directory_max_age_days": "7"},
            "directory_max_age_days",
            "must be an integer",
        ),
        ({"directory_max_age_days": 7}, "directory_max_age_days", "only used with directory_publisher_arns"),
    ],
)
def test_bad_entry_names_environment_and_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(EnvironmentConfigError) as raised:
        parse_environment("staging", entry(**changes))
    assert raised.value.environment == "staging"
    assert raised.value.field == field
    assert str(raised.value).startswith(f"environments.staging.{field}: ")
    assert message in str(raised.value)


def test_an_organisation_trail_confirmed_to_record_the_invocations_is_accepted() -> None:
    config = parse_environment(
        "staging",
        entry(
            trail_mode="existing",
            trail_log_group_name="org-trail",
            existing_trail_records_derive_invokes=True,
        ),
    )
    assert config.existing_trail_records_derive_invokes is True


def test_missing_key_specs_is_named() -> None:
    with pytest.raises(EnvironmentConfigError, match=r"^environments\.dev\.key_specs: required"):
        parse_environment("dev", {"admin_arns": []})


def test_a_json_string_from_the_command_line_is_parsed() -> None:
    environments = parse_environments('{"dev": {"key_specs": ["ECC_NIST_P384"]}}')
    assert environments["dev"].key_specs == ("ECC_NIST_P384",)


def test_an_account_root_still_administers_and_reads() -> None:
    root = "arn:aws:iam::111111111111:root"
    config = parse_environment("dev", entry(admin_arns=[root], public_key_reader_arns=[root]))
    assert config.admin_arns == config.public_key_reader_arns == (root,)


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        (None, "environments: the cdk.json context value must be a non-empty object"),
        ({}, "environments: the cdk.json context value must be a non-empty object"),
        ({"Prod": VALID}, "environments.Prod: environment names are lower-case"),
        ({"dev": ["ECC_NIST_P256"]}, "environments.dev: must be an object"),
        ('{"dev": ', "environments: not valid JSON"),
    ],
)
def test_bad_environments_object(environments: Any, message: str) -> None:
    with pytest.raises(EnvironmentConfigError) as raised:
        parse_environments(environments)
    assert str(raised.value).startswith(message)


def test_a_bad_entry_fails_the_app_before_synthesis(tmp_path: Any) -> None:
    context = load_context()
    context["environments"]["dev"]["minimum_deletion_window_days"] = 3
    with pytest.raises(EnvironmentConfigError, match=r"^environments\.dev\.minimum_deletion_window_days: "):
        create_app(outdir=str(tmp_path), context=context)


@pytest.mark.parametrize(
    "path",
    [
        "o-a1b2c3d4e5/r-ab12/",
        "o-a1b2c3d4e5/r-ab12/*",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/*",
    ],
)
def test_organisation_paths_as_aws_principal_org_paths_carries_them(path: str) -> None:
    config = parse_environment(
        "staging",
        entry(public_key_reader_organization_id="o-a1b2c3d4e5", public_key_reader_org_paths=[path]),
    )
    assert config.public_key_reader_org_paths == (path,)


def test_the_staging_example_lets_its_organisation_read_the_public_keys() -> None:
    staging = parse_environments(load_context()["environments"])["staging"]
    assert staging.public_key_reader_organization_id == "o-a1b2c3d4e5"


def test_the_prod_example_replicates_to_one_region() -> None:
    prod = parse_environments(load_context()["environments"])["prod"]
    assert prod.replica_regions == ("eu-west-1",)
    assert prod.region == "eu-central-1"


def test_generations_are_retired_the_day_after_retire_after() -> None:
    entry_with_generations = entry(
        key_generations={
            "ECC_NIST_P256": [{"name": "2026-05", "retire_after": "2027-02-28"}, {"name": "2026-11"}]
        }
    )
    on_the_day = parse_environment("dev", entry_with_generations, datetime.date(2027, 2, 28))
    old, new = on_the_day.generations("ECC_NIST_P256")
    assert (old.status, new.status) == ("active", "active")
    assert on_the_day.current_generation("ECC_NIST_P256") is new
    day_after = parse_environment("dev", entry_with_generations, datetime.date(2027, 3, 1))
    old, new = day_after.generations("ECC_NIST_P256")
    assert (old.status, new.status) == ("retired", "active")


def test_the_newest_active_generation_is_current() -> None:
    config = parse_environment(
        "dev",
        entry(
            key_generations={"ECC_NIST_P256": [{"name": "a"}, {"name": "b", "retire_after": "2027-01-01"}]}
        ),
        datetime.date(2027, 1, 2),
    )
    assert config.current_generation("ECC_NIST_P256").name == "a"


def test_key_specs_alone_is_one_implicit_generation() -> None:
    config = parse_environment("dev", VALID)
    assert config.generations("ECC_NIST_P256") == (IMPLICIT_GENERATION,)
    assert config.current_generation("ECC_NIST_P256").name is None


@pytest.mark.parametrize("today", ["2027-1-1", "tomorrow", 20270101])
def test_a_bad_today_context_is_named(today: object) -> None:
    with pytest.raises(EnvironmentConfigError, match=r"context kmsecdh:today must be a date YYYY-MM-DD"):
        parse_today(today)


def test_a_directory_max_age_is_read_with_publishers() -> None:
    config = parse_environment(
        "prod", entry(directory_publisher_arns=[f"{ROLE}/Publisher"], directory_max_age_days=7)
    )
    assert config.directory_max_age_days == 7


# --- the deploy path: bootstrap qualifier, the trail bucket's retention and Object Lock -------------------

EXISTING_TRAIL = {
    "trail_mode": "existing",
    "trail_log_group_name": "org-trail",
    "existing_trail_records_derive_invokes": True,
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"bootstrap_qualifier": "KmsEcdh"}, "bootstrap_qualifier", "lower-case letters, digits and '-'"),
        ({"bootstrap_qualifier": "kms_ecdh"}, "bootstrap_qualifier", "at most 10"),
        ({"bootstrap_qualifier": "kmsecdhprod1"}, "bootstrap_qualifier", "got 'kmsecdhprod1'"),
        ({"bootstrap_qualifier": ""}, "bootstrap_qualifier", "a CDK bootstrap qualifier"),
        ({"bootstrap_qualifier": 7}, "bootstrap_qualifier", "a CDK bootstrap qualifier"),
        (
            {"log_retention_days": 731},
            "trail_bucket_retention_days",
            "365 is below log_retention_days (731): the bucket would expire log files",
        ),
        (
            {"log_retention_days": 731, "trail_bucket_retention_days": 400},
            "trail_bucket_retention_days",
            "400 is below log_retention_days (731)",
        ),
        ({"trail_bucket_retention_days": 0}, "trail_bucket_retention_days", "must be 1..36500, got 0"),
        ({"trail_bucket_retention_days": "1y"}, "trail_bucket_retention_days", "must be an integer"),
        (
            {"trail_object_lock_mode": "legal-hold"},
            "trail_object_lock_mode",
            "must be one of compliance, governance",
        ),
        ({"trail_object_lock_mode": "COMPLIANCE"}, "trail_object_lock_mode", "must be one of compliance"),
        (
            {"trail_object_lock_mode": "compliance"},
            "trail_object_lock_days",
            "required with trail_object_lock_mode",
        ),
        ({"trail_object_lock_days": 30}, "trail_object_lock_days", "only used with trail_object_lock_mode"),
        (
            {"trail_object_lock_mode": "governance", "trail_object_lock_days": 0},
            "trail_object_lock_days",
            "must be 1..36500, got 0",
        ),
        (
            {"trail_object_lock_mode": "compliance", "trail_object_lock_days": 731},
            "trail_bucket_retention_days",
            "365 is below trail_object_lock_days (731): the lifecycle would try to expire log files that are "
            "still locked",
        ),
        (
            {**EXISTING_TRAIL, "trail_object_lock_mode": "compliance", "trail_object_lock_days": 30},
            "trail_object_lock_mode",
            "only used when trail_mode is 'create'",
        ),
        (
            {**EXISTING_TRAIL, "trail_bucket_retention_days": 731},
            "trail_bucket_retention_days",
            "only used when trail_mode is 'create'",
        ),
    ],
)
def test_a_bad_deploy_path_field_names_environment_and_field(
    changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(EnvironmentConfigError) as raised:
        parse_environment("prod", entry(**changes))
    assert raised.value.field == field
    assert str(raised.value).startswith(f"environments.prod.{field}: ")
    assert message in str(raised.value)


def test_the_trail_bucket_keeps_log_files_as_long_as_the_lock_and_the_log_group() -> None:
    config = parse_environment(
        "prod",
        entry(
            log_retention_days=731,
            trail_bucket_retention_days=731,
            trail_object_lock_mode="governance",
            trail_object_lock_days=400,
        ),
    )
    assert (
        config.trail_bucket_retention_days,
        config.trail_object_lock_mode,
        config.trail_object_lock_days,
    ) == (
        731,
        "governance",
        400,
    )
    assert parse_environment("dev", VALID).trail_object_lock_mode is None
    assert parse_environment("dev", VALID).bootstrap_qualifier is None


def test_the_examples_keep_prod_apart_and_lock_its_trail() -> None:
    environments = parse_environments(load_context()["environments"])
    staging, prod = environments["staging"], environments["prod"]
    assert staging.account != prod.account
    assert prod.bootstrap_qualifier == "kmsecdh"
    assert (prod.trail_object_lock_mode, prod.trail_object_lock_days) == ("compliance", 731)
    assert prod.trail_bucket_retention_days >= prod.log_retention_days
    for config in environments.values():
        # every principal of an environment pinned to an account is of that account
        if config.account is None:
            continue
        principals = [
            *config.admin_arns,
            *config.caller_arns,
            *config.public_key_reader_arns,
            *config.extra_deriver_arns,
            *config.directory_publisher_arns,
        ]
        assert {arn.split(":")[4] for arn in principals} == {config.account}, config.name


def test_deploy_targets_are_every_region_with_the_qualifier() -> None:
    prod = parse_environments(load_context()["environments"])["prod"]
    assert prod.deploy_targets == (
        ("333333333333", "eu-central-1", "kmsecdh"),
        ("333333333333", "eu-west-1", "kmsecdh"),
    )


def test_adding_replica_regions_to_a_running_environment_is_refused_with_the_way_out() -> None:
    """staging as shipped, plus a replica Region: each spec's current key is single-Region, and making it
    multi-Region would replace it; the message names the generation and the new-generation way."""
    staging = copy.deepcopy(load_context()["environments"]["staging"])
    staging["replica_regions"] = ["eu-central-1"]
    with pytest.raises(EnvironmentConfigError) as raised:
        parse_environment("staging", staging)
    assert raised.value.field == "replica_regions"
    assert (
        "the current generation '2026-11' of ECC_NIST_P256 (key_generations.ECC_NIST_P256[1]) is "
        "single-Region" in str(raised.value)
    )
    assert "would replace it" in str(raised.value)
    assert 'Add a new generation after it, {"name": "<new>", "multi_region": true}' in str(raised.value)

    staging["key_generations"]["ECC_NIST_P256"].append({"name": "2027-01", "multi_region": True})
    with pytest.raises(EnvironmentConfigError) as raised:
        parse_environment("staging", staging)
    assert "the key of ECC_NIST_P384 (the one key_specs made, no key_generations entry)" in str(raised.value)
    assert (
        '"key_generations": {"ECC_NIST_P384": [{"name": "<existing>"}, {"name": "<new>", "multi_region": '
        "true}]}" in str(raised.value)
    )

    staging["key_generations"]["ECC_NIST_P384"] = [
        {"name": "2026-01"},
        {"name": "2027-01", "multi_region": True},
    ]
    config = parse_environment("staging", staging)
    multi_region = [generation.multi_region for generation in config.generations("ECC_NIST_P256")]
    assert multi_region == [False, False, True]
    assert config.current_generation("ECC_NIST_P384").multi_region is True


def test_a_new_environment_is_multi_region_from_its_first_generation() -> None:
    config = parse_environment(
        "dr",
        entry(
            account="111111111111",
            region="eu-central-1",
            replica_regions=["eu-west-1"],
            key_generations={"ECC_NIST_P256": [{"name": "2026-01", "multi_region": True}]},
        ),
    )
    assert config.generations("ECC_NIST_P256")[0].multi_region is True


# --- docs/configuration.md's environment table follows the declarations -------------------------------------

CONFIGURATION_DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
# A row's meaning ends with the default in brackets, e.g. `[30]` or `[none: CDK's default ...]` (a link's
# text is followed by its target, so it never ends a cell).
SHOWN_DEFAULT = re.compile(r"\[([^\[\]]+)\]$")


def documented_fields() -> dict[str, str]:
    """Each field the environments table names, with its row's meaning."""
    section = CONFIGURATION_DOCS.read_text().split("\n## Environments", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        names, meaning = (cell.strip() for cell in row.strip().strip("|").split("|", 1))
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = meaning.strip()
    return documented


def shown(default: Any) -> str:
    """A default as the table shows it."""
    if default is None or default == () or default == {}:
        return "none"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def row_to_paste(field: dataclasses.Field[Any]) -> str:
    default = default_of(field)
    ending = "required" if default is dataclasses.MISSING else f"[{shown(default)}]"
    return f"| `{field.name}` | {field.metadata['description']} {ending} |"


def test_the_configuration_docs_list_exactly_the_declared_fields() -> None:
    documented = documented_fields()
    missing = [row_to_paste(field) for field in SETTINGS if field.name not in documented]
    undeclared = sorted(set(documented) - set(FIELDS))
    rows = "\n".join(missing)
    assert not missing, f"{CONFIGURATION_DOCS}: paste these rows into the environments table:\n{rows}"
    assert not undeclared, (
        f"{CONFIGURATION_DOCS}: remove the rows of fields that are not declared: {undeclared}"
    )


def test_the_configuration_docs_show_each_declared_default() -> None:
    documented = documented_fields()
    wrong = []
    for field in SETTINGS:
        default, meaning = default_of(field), documented.get(field.name, "")
        if default is dataclasses.MISSING:
            if not meaning.startswith("required"):
                wrong.append(f"`{field.name}` is required: its meaning starts with 'required'")
            continue
        match = SHOWN_DEFAULT.search(meaning)
        if match is None or match.group(1).split(":")[0] != shown(default):
            wrong.append(
                f"`{field.name}`: end the meaning with [{shown(default)}], e.g. {row_to_paste(field)}"
            )
    assert not wrong, f"{CONFIGURATION_DOCS}, environments table:\n" + "\n".join(wrong)
