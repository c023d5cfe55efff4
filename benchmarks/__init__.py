"""``make bench``: the project's costs measured as ratios against the floors it cannot beat (issue 5)."""

from devtools import PROJECT_ROOT

__all__ = ["PROJECT_ROOT", "Unavailable"]


class Unavailable(Exception):
    """A figure that cannot be measured on this checkout (a tool it needs is absent): reported, not failed."""
