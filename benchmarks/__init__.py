"""``make bench``: the project's costs measured as ratios against the floors it cannot beat (issue 5)."""

from devtools import PROJECT_ROOT

__all__ = ["PROJECT_ROOT"]
