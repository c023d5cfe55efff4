"""A replica Region of an environment: replicas of its multi-Region keys, their aliases and a derive function.

CloudFormation creates an ``AWS::KMS::ReplicaKey`` only from a stack in the replica's Region, hence a stack
per replica Region. It has what the home ``KeyAgreement`` stack has for the multi-Region generations (a
single-Region generation serves its home Region alone), in that Region: the same key policy
model (administrators, guards, public-key readers; derivers are this Region's derive function role and the
configured extra derivers), the same aliases, the function configured with this Region's replica ARNs, the
isolated network when the environment asks for it, and the same outputs. The primary keys' ARNs come from
the home stack as weak references (cdk.json's ``@aws-cdk/core:defaultCrossStackReferences``): an output of
the home stack read with ``Fn::GetStackOutput``, which names the producing stack's Region, so no custom
resource or export is involved; the function and its role have fixed names so that the home Region's audit
can name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constructs import Construct

from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.replica_key import ReplicaKeyAgreementKey
from stacks.config import EnvironmentConfig, KeyGeneration
from stacks.key_agreement_stack import KeyAgreementStack, derive_function_name


class ReplicaKeyAgreementStack(KeyAgreementStack):
    """``<environment>/KeyAgreement-<region>``: the replica Region's keys and derive function."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        primary_keys: Sequence[KeyAgreementKey],
        **kwargs: object,
    ) -> None:
        self._primary_keys = tuple(primary_keys)
        super().__init__(scope, id, config=config, **kwargs)

    def _holds(self, generation: KeyGeneration) -> bool:
        """Only multi-Region generations have replicas; a single-Region one serves its home Region alone."""
        return generation.multi_region

    def _create_key(self, id: str, generation: KeyGeneration, **settings: Any) -> KeyAgreementKey:
        """The replica of the home Region's key of the same construct id (the same generation)."""
        primary = next(key for key in self._primary_keys if key.node.id == id)
        return ReplicaKeyAgreementKey(self, id, primary_key_arn=primary.key_arn, **settings)

    def _derive_function_names(self, config: EnvironmentConfig) -> dict[str, str]:
        name = derive_function_name(config, self.region)
        return {"function_name": name, "role_name": name}
