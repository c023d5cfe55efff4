"""The principals the constructs name in key and function policies: exact roles or users, never a pattern.

Two kinds of ARN are refused for derivers and callers:

- an account root (``arn:aws:iam::<account>:root``): in a policy's Principal element it hands the decision
  to IAM, so every principal of the account whose own policy allows the action would derive or invoke;
- an ARN holding ``*`` or ``?``: the ARN condition operators (``ArnNotEquals`` in ``DenyDeriveToOthers``)
  read them as wildcards, so one such deriver would exempt every principal it matches from the deny.
"""

from __future__ import annotations

from aws_cdk import Token
from aws_cdk import aws_iam as iam

ARN_WILDCARDS = ("*", "?")


def principal_arn(principal: iam.IPrincipal) -> str:
    """The ARN `aws:PrincipalArn` carries for requests made by this principal."""
    for attribute in ("role_arn", "user_arn", "arn"):
        arn = getattr(principal, attribute, None)
        if arn:
            return arn
    raise TypeError(f"cannot name the ARN of principal {principal}; grant to a role, user or ArnPrincipal")


def check_exact_principal_arn(arn: str) -> None:
    """Raise ValueError for an account root or an ARN with a wildcard; tokens (roles the app makes) pass."""
    if Token.is_unresolved(arn):
        return
    if arn.endswith(":root"):
        raise ValueError(
            f"{arn!r} is an account root: it would admit every principal of the account whose IAM policy "
            "allows the action; name the roles or users"
        )
    if any(wildcard in arn for wildcard in ARN_WILDCARDS):
        raise ValueError(
            f"{arn!r} holds '*' or '?', which ARN conditions read as wildcards; name exact roles or users"
        )


def exact_principal_arn(principal: iam.IPrincipal) -> str:
    """The principal's ARN, refused when it is an account root or holds a wildcard."""
    arn = principal_arn(principal)
    if isinstance(principal, iam.AccountRootPrincipal):
        # Its ARN is a token ({"Fn::Join": [..., ":root"]}) that the string check cannot see.
        raise ValueError(
            "an account root would admit every principal of the account whose IAM policy allows the "
            "action; name the roles or users"
        )
    check_exact_principal_arn(arn)
    return arn
