"""Stacks and the per-environment stage: they only compose the constructs of ``kmsecdh_cdk``."""
