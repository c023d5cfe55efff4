"""The derive function's configuration: KMSECDH_KEYS, KMSECDH_DEFAULT_KEY and KMSECDH_ALLOW_RAW_SECRET read
into a typed ``Configuration``, and the keys it lets a request name.

The constructs write these variables for the deployed function (the names are ``kmsecdh.contract``'s);
``Configuration.as_environment`` writes them back for callers that serve invocations in-process.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kmsecdh.contract import (
    ALLOW_RAW_SECRET_VARIABLE,
    DEFAULT_KEY_VARIABLE,
    KEY_ARN_PATTERN,
    KEYS_VARIABLE,
)
from kmsecdh.errors import KeyNotAllowed
from kmsecdh.keys import KEY_SPECS

_ALIAS_NAME = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
# An RFC 7638 thumbprint as kmsecdh.jwk writes a kid: SHA-256, base64url without padding. No alias name
# (alias/...), key id (36 characters) or ARN (arn:...) has this form, so a key_id of it is a kid.
_KID = re.compile(r"[A-Za-z0-9_-]{43}")
_TRUE, _FALSE = "true", "false"


@dataclass(frozen=True)
class ConfiguredKey:
    """A KMS key this function may use: its alias name, ARN and key spec."""

    alias: str
    arn: str
    key_spec: str

    @property
    def key_id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every ``key_id`` a request may name this key by: alias name or ARN, key id, key ARN."""
        alias_arn = f"{self.arn.rsplit(':', 1)[0]}:{self.alias}"
        return (self.alias, alias_arn, self.key_id, self.arn)


@dataclass(frozen=True)
class Configuration:
    """The function's configuration, read from its environment variables."""

    keys: tuple[ConfiguredKey, ...]
    default_alias: str
    allow_raw_secret: bool

    def resolve(
        self, key_id: str | None, kid_of: Callable[[ConfiguredKey], str] | None = None
    ) -> ConfiguredKey:
        """The configured key named by ``key_id`` (the default key when None), else KeyNotAllowed.

        With ``kid_of`` (a key's RFC 7638 thumbprint, from its public key), a ``key_id`` that has the form
        of a kid is looked up among the configured keys' kids, in configuration order.
        """
        try:
            return self._keys_by_identifier[self.default_alias if key_id is None else key_id]
        except (KeyError, TypeError):
            pass
        if kid_of is not None and isinstance(key_id, str) and _KID.fullmatch(key_id):
            for key in self.keys:
                if kid_of(key) == key_id:
                    return key
        raise KeyNotAllowed("key_id is not an alias name, key id, ARN or kid of a key this function may use")

    @functools.cached_property
    def _keys_by_identifier(self) -> dict[str, ConfiguredKey]:
        # Earlier keys win, as a search in configuration order would (identifiers rarely collide).
        return {identifier: key for key in reversed(self.keys) for identifier in key.identifiers}

    def as_environment(self) -> dict[str, str]:
        """The environment variables load_configuration reads back as this configuration.

        For callers that run handle_invocation in-process (the demo, benchmarks, tests); the
        constructs write the same variables for the deployed function.
        """
        return {
            KEYS_VARIABLE: json.dumps(
                {key.alias: {"arn": key.arn, "key_spec": key.key_spec} for key in self.keys}
            ),
            DEFAULT_KEY_VARIABLE: self.default_alias,
            ALLOW_RAW_SECRET_VARIABLE: _TRUE if self.allow_raw_secret else _FALSE,
        }


def configuration_error(message: str) -> KeyNotAllowed:
    # A misconfigured function may use no key at all; the message tells the operator what to fix.
    return KeyNotAllowed(f"function configuration: {message}")


def load_configuration(environ: Mapping[str, str] | None = None) -> Configuration:
    """Parse and validate KMSECDH_KEYS, KMSECDH_DEFAULT_KEY and KMSECDH_ALLOW_RAW_SECRET.

    Any problem raises KeyNotAllowed naming the variable: no key may be used until it is fixed.
    The variables are read on every call, but parsed once per distinct set of values: a warm
    container does not re-parse the same JSON on each invocation.
    """
    environ = os.environ if environ is None else environ
    return _parse_configuration(
        environ.get(KEYS_VARIABLE, ""),
        environ.get(DEFAULT_KEY_VARIABLE, ""),
        environ.get(ALLOW_RAW_SECRET_VARIABLE, _FALSE),
    )


@functools.lru_cache(maxsize=8)
def _parse_configuration(keys_json: str, default_alias: str, allow_raw_text: str) -> Configuration:
    try:
        entries = json.loads(keys_json)
    except ValueError:
        raise configuration_error(f"{KEYS_VARIABLE} is not set or not JSON") from None
    if not isinstance(entries, dict) or not entries:
        raise configuration_error(f"{KEYS_VARIABLE} must be a non-empty JSON object")
    keys = tuple(_configured_key(alias, entry) for alias, entry in entries.items())
    if default_alias not in entries:
        raise configuration_error(f"{DEFAULT_KEY_VARIABLE} must be one of the alias names in {KEYS_VARIABLE}")
    allow_raw = allow_raw_text.strip().lower()
    if allow_raw not in (_TRUE, _FALSE):
        raise configuration_error(f"{ALLOW_RAW_SECRET_VARIABLE} must be 'true' or 'false'")
    return Configuration(keys=keys, default_alias=default_alias, allow_raw_secret=allow_raw == _TRUE)


def _configured_key(alias: str, entry: object) -> ConfiguredKey:
    if not _ALIAS_NAME.fullmatch(alias) or alias.startswith("alias/aws/"):
        raise configuration_error(f"{KEYS_VARIABLE} names must be customer alias names (alias/...)")
    if not isinstance(entry, dict) or set(entry) != {"arn", "key_spec"}:
        raise configuration_error(f"{KEYS_VARIABLE}[{alias}] must be an object with arn and key_spec")
    arn, key_spec = entry["arn"], entry["key_spec"]
    if not isinstance(arn, str) or not KEY_ARN_PATTERN.fullmatch(arn):
        raise configuration_error(f"{KEYS_VARIABLE}[{alias}].arn must be a KMS key ARN")
    if key_spec not in KEY_SPECS:
        raise configuration_error(f"{KEYS_VARIABLE}[{alias}].key_spec must be one of {', '.join(KEY_SPECS)}")
    return ConfiguredKey(alias=alias, arn=arn, key_spec=key_spec)
