"""The home's reading of what the community sends: the protocol's JSON, or a refusal."""

from __future__ import annotations

import pytest

from custom_components.ioe_community.link.protocol import MessageKind, ProtocolError, decode

SIGNAL = (
    b'{"schema": "ioe.signal.v1", "ts": "2026-11-24T10:15:00Z", "kind": "surplus",'
    b' "valid_until": "2026-11-24T10:45:00Z", "surplus_w": 1200.0}'
)


def test_a_signal_decodes() -> None:
    assert decode(SIGNAL, MessageKind.SIGNAL)["surplus_w"] == 1200.0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (SIGNAL.replace(b"1200.0", b"NaN"), "NaN is not a number the protocol allows"),
        (SIGNAL.replace(b"1200.0", b"Infinity"), "Infinity is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "not the protocol's JSON"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_what_json_allows_and_the_protocol_does_not_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode(payload, MessageKind.SIGNAL)
