"""``make bench``: the project's costs measured as ratios against the floors it cannot beat (issue 5)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Unavailable(Exception):
    """A figure that cannot be measured on this checkout (a tool it needs is absent): reported, not failed."""
