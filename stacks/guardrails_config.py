"""The optional `guardrails` context of cdk.json, parsed and validated before any construct is built.

Every problem is one ``GuardrailsConfigError`` naming the field, e.g.
``guardrails.target_ids: 'ou-1' is not a root (r-...), an OU (ou-...-...) or a 12-digit account id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kmsecdh_cdk.guardrails import ORGANIZATION_ID_PATTERN, TARGET_ID_PATTERN
from stacks.config import EnvironmentConfig
from stacks.config_readers import ACCOUNT_PATTERN, REGION_PATTERN, SectionError, required_text, section

GUARDRAILS_CONTEXT_KEY = "guardrails"
FIELDS = ("account", "region", "organization_id", "target_ids", "environments")


class GuardrailsConfigError(SectionError):
    """A bad `guardrails` entry in cdk.json; str() names the field."""

    SECTION = GUARDRAILS_CONTEXT_KEY


@dataclass(frozen=True)
class GuardrailsConfig:
    """Where the organisation policies are deployed, whom they apply to and which environments they guard.

    :param account: the organisation's management account, or the member account delegated to administer
        policies: the only accounts that may create them.
    :param region: the Region of the ``Guardrails`` stack (AWS Organizations is global; its endpoint is in
        us-east-1).
    :param organization_id: the organisation (``o-...``): the resource control policy refuses derive and sign
        on the project's keys to principals outside it.
    :param target_ids: the roots, OUs or accounts the policies are attached to; start with a test OU (see
        docs/guardrails.md, "Rolling out").
    :param environments: the environments whose resources are guarded; default: every environment.
    """

    account: str
    region: str
    organization_id: str
    target_ids: tuple[str, ...]
    environments: tuple[str, ...]


def parse_guardrails(context: object, environments: Mapping[str, EnvironmentConfig]) -> GuardrailsConfig:
    """Parse the `guardrails` context value against the already parsed `environments`."""
    context = section(context, FIELDS, GuardrailsConfigError)

    def text(field: str, pattern: re.Pattern[str], what: str) -> str:
        return required_text(context, field, pattern, what, GuardrailsConfigError)

    account = text(
        "account",
        ACCOUNT_PATTERN,
        "the 12-digit id of the organisation's management account or of the delegated policy administrator",
    )
    region = text("region", REGION_PATTERN, "the Region of the Guardrails stack, such as us-east-1")
    organization_id = text("organization_id", ORGANIZATION_ID_PATTERN, "the organisation id (o-...)")

    target_ids = context.get("target_ids")
    if not isinstance(target_ids, list) or not target_ids:
        raise GuardrailsConfigError(
            "target_ids", f"must be a non-empty list of roots, OUs or account ids, got {target_ids!r}"
        )
    for target in target_ids:
        if not isinstance(target, str) or not TARGET_ID_PATTERN.fullmatch(target):
            raise GuardrailsConfigError(
                "target_ids",
                f"{target!r} is not a root (r-...), an OU (ou-...-...) or a 12-digit account id",
            )
    if len(set(target_ids)) != len(target_ids):
        raise GuardrailsConfigError("target_ids", "lists a target twice")

    guarded = context.get("environments", list(environments))
    if not isinstance(guarded, list) or not guarded or not all(isinstance(name, str) for name in guarded):
        raise GuardrailsConfigError(
            "environments", f"must be a non-empty list of environment names, got {guarded!r}"
        )
    for name in guarded:
        if name not in environments:
            raise GuardrailsConfigError("environments", f"environment {name!r} is not in environments")
        if environments[name].account == account:
            raise GuardrailsConfigError(
                "environments",
                f"environment {name!r} is deployed to {account}, the account that administers the "
                "organisation's policies: service control policies never apply to the management account, "
                "and the project's keys belong in a member account",
            )
    if len(set(guarded)) != len(guarded):
        raise GuardrailsConfigError("environments", "lists an environment twice")
    _check_name_prefixes(environments)

    return GuardrailsConfig(
        account=account,
        region=region,
        organization_id=organization_id,
        target_ids=tuple(target_ids),
        environments=tuple(guarded),
    )


def _check_name_prefixes(environments: Mapping[str, EnvironmentConfig]) -> None:
    """The policies name an environment's resources ``kmsecdh-<environment>-*``: refuse two environments
    where one's pattern would also match the other's resources (``prod`` and ``prod-eu``), or one
    environment's deployers could change the other's."""
    names = sorted(environments)
    for name in names:
        for other in names:
            if other != name and other.startswith(f"{name}-"):
                raise GuardrailsConfigError(
                    "environments",
                    f"environments {name!r} and {other!r}: the policies name {name!r}'s resources "
                    f"kmsecdh-{name}-*, which also matches {other!r}'s; rename one",
                )
