"""kmsecdh_cdk: the AWS CDK constructs of kmsecdh (``pip install kmsecdh[cdk]``).

A second top-level package of the ``kmsecdh`` distribution, so that the runtime package ``kmsecdh`` (the
derive function, the client, the command line) never imports CDK code. The constructs know nothing about
environments; an app's stacks compose them (this repository's are in ``stacks/``):

* ``KeyAgreementKey``: a KEY_AGREEMENT KMS key (multi-Region if asked), its alias and its explicit key policy;
* ``ReplicaKeyAgreementKey``: a replica of a multi-Region one in another Region, with the same policy model;
* ``DeriveFunction``: the derive Lambda, bundled without Docker from the installed ``kmsecdh`` package;
* ``KeyUsageAudit``: CloudTrail (or an organisation trail's log group), metric filters, alarms, a heartbeat;
* ``IsolatedNetwork``: a VPC with isolated subnets and the interface endpoints the function needs;
* ``PublicKeyDirectory``: the signing key, bucket and parameter of a signed public-key directory;
* ``OrganizationGuardrails``: service and resource control policies guarding deployments
  (``GuardedResources``) from principals of their own accounts.
* ``key_lock.KeyLock``: a committed record of the keys' identities that synthesis checks, so that no key
  is replaced or deleted by accident (docs/operations.md);
* ``OperatorDashboard``: a CloudWatch dashboard of the derive functions' metrics and the audit's alarms;
* ``KeyAgreementGrants``: derive and public-key-read grants on any KEY_AGREEMENT ``aws_kms.IKey``;
* ``KmsEcdhChecks``: a cdk-nag pack for key-agreement keys, in any CDK app (docs/cdk-nag-pack.md).
"""

from kmsecdh_cdk.audit import KeyUsageAudit
from kmsecdh_cdk.dashboard import DashboardFunction, OperatorDashboard
from kmsecdh_cdk.derive_function import DeriveFunction
from kmsecdh_cdk.grants import KeyAgreementGrants
from kmsecdh_cdk.guardrails import GuardedResources, OrganizationGuardrails
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.nag_pack import KmsEcdhChecks
from kmsecdh_cdk.network import IsolatedNetwork
from kmsecdh_cdk.public_key_directory import PublicKeyDirectory
from kmsecdh_cdk.replica_key import ReplicaKeyAgreementKey

__all__ = [
    "DashboardFunction",
    "DeriveFunction",
    "GuardedResources",
    "IsolatedNetwork",
    "KeyAgreementGrants",
    "KeyAgreementKey",
    "KeyUsageAudit",
    "KmsEcdhChecks",
    "OperatorDashboard",
    "OrganizationGuardrails",
    "PublicKeyDirectory",
    "ReplicaKeyAgreementKey",
]
