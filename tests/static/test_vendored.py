"""The integration's copies of the protocol files are the aggregator's, byte for byte."""

from __future__ import annotations

from ioe_dev import vendored


def test_vendored_copies_are_current() -> None:
    stale = [str(path.relative_to(vendored.ROOT)) for path in vendored.stale()]
    assert not stale, f"refresh with: ./scripts/in-env python -m ioe_dev.vendored — {stale}"


def test_every_schema_is_vendored() -> None:
    copies = {copy.name for _original, copy in vendored.copies()}
    assert {"join_code.py", "readings.v1.json", "results.v1.json", "ack.v1.json"} <= copies
