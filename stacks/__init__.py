"""Stacks and the per-environment stage: they only compose the constructs of ``constructs_lib``."""
