"""hypothesis: whatever JSON the function is invoked with, only DeriveError subclasses come out."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmsecdh.contract import ACTION_DERIVE, ACTION_PUBLIC_KEY
from kmsecdh.errors import DeriveError
from kmsecdh.kdf import ALGORITHMS
from kmsecdh.keys import public_key_pem

from .support import FAKE_P256_ALIAS, FAKE_P256_ARN, b64

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    ["action", "key_id", "peer_public_key", "peer_public_keys", "kdf", "output", "algorithm", "length"]
)
VALID_PEER = public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key())


def mostly(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid values most of the time, so that examples get past the first check into the later ones."""
    return st.one_of(valid, valid, valid, JSON)


BASE64 = st.binary(max_size=1100).map(b64) | st.text(alphabet="ABCab01+/=", max_size=20)
PEER_TEXT = st.sampled_from([VALID_PEER, "", "AAAA", "-----BEGIN PUBLIC KEY-----"]) | BASE64
KDF = st.fixed_dictionaries(
    {},
    optional={
        "algorithm": mostly(st.sampled_from(sorted(ALGORITHMS))),
        "length": mostly(st.integers(min_value=0, max_value=100)),
        "fixed_info": mostly(BASE64),
        "salt": mostly(BASE64),
    },
)
PEERS = st.fixed_dictionaries({"peer_public_key": mostly(PEER_TEXT)}) | st.fixed_dictionaries(
    {"peer_public_keys": mostly(st.lists(mostly(PEER_TEXT), max_size=4))}
)
DERIVE = st.builds(
    lambda peers, rest: {"action": ACTION_DERIVE, **peers, **rest},
    PEERS,
    st.fixed_dictionaries(
        {},
        optional={
            "key_id": mostly(st.sampled_from([FAKE_P256_ALIAS, FAKE_P256_ARN, "alias/other"])),
            "kdf": mostly(KDF),
            "output": mostly(st.sampled_from(["derived_key", "shared_secret"])),
        },
    ),
)
PUBLIC_KEY = st.fixed_dictionaries(
    {"action": st.just(ACTION_PUBLIC_KEY)}, optional={"key_id": mostly(st.just(FAKE_P256_ALIAS))}
)
EVENTS = JSON | st.dictionaries(FIELD_NAMES, JSON, max_size=6) | DERIVE | DERIVE | PUBLIC_KEY

# Function-scoped fixtures (the configuration, the stubbed client, log capture) hold for every example.
FUZZ_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ_SETTINGS
@given(event=EVENTS)
def test_arbitrary_events_raise_only_derive_errors(derive_handler, counted_kms, captured_logs, event):
    try:
        response = derive_handler(event, None)
    except DeriveError:
        pass
    else:
        assert isinstance(response, dict)
    # The handler's safety net turns a bug into a DeriveError too; the log line tells them apart.
    assert "internal_error" not in captured_logs.invocation_lines()[-1]
