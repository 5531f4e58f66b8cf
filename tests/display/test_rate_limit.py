"""The public rate limit: per caller (an IPv6 /64 is one), in bounded memory and work."""

from __future__ import annotations

import pytest

from ioe_aggregator.api.public import RateLimit


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the time now."""
        return self.now


def test_each_address_has_its_window_and_waits_for_the_next() -> None:
    clock = Clock()
    limit = RateLimit(3, clock=clock)
    assert [limit.wait_s("192.0.2.1") for _ in range(3)] == [0, 0, 0]
    clock.now += 20.2
    assert limit.wait_s("192.0.2.1") == 40
    assert limit.wait_s("192.0.2.2") == 0
    clock.now += 40
    assert limit.wait_s("192.0.2.1") == 0


@pytest.mark.parametrize(
    ("address", "caller"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
        ("unix socket", "unix socket"),
    ],
)
def test_an_ipv6_address_counts_as_its_64(address: str, caller: str) -> None:
    assert RateLimit.caller(address) == caller


def test_a_64_flooding_from_many_addresses_is_one_caller() -> None:
    limit = RateLimit(5, clock=Clock())
    waits = [limit.wait_s(f"2001:db8:1:2::{n:x}") for n in range(1, 8)]
    assert waits == [0] * 5 + [60, 60]
    assert limit.wait_s("2001:db8:1:3::1") == 0  # the next /64 is another caller


def test_finished_windows_are_forgotten_at_most_once_a_second() -> None:
    clock = Clock()
    limit = RateLimit(1, capacity=3, clock=clock)
    for n in range(3):
        limit.wait_s(f"192.0.2.{n}")
    # The table is full: a newcomer shares the crowd's window.
    assert limit.wait_s("198.51.100.1") == 0
    assert limit.wait_s("198.51.100.2") == 60
    clock.now += 60
    # The windows are finished: forgotten, the newcomer is on its own again.
    assert limit.wait_s("198.51.100.2") == 0
    assert limit.wait_s("198.51.100.2") == 60
    assert limit.wait_s("198.51.100.3") == 0


def test_a_crowd_of_addresses_keeps_the_table_bounded(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limit = RateLimit(2, capacity=100, clock=clock)
    waits = []
    for n in range(5000):
        clock.now += 0.001
        waits.append(limit.wait_s(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"))
    assert waits[:100] == [0] * 100
    # The crowd beyond the capacity shares one window: two requests, then it waits.
    assert waits[100:102] == [0, 0]
    assert all(wait > 0 for wait in waits[102:])
    assert len(limit) == 101
    # Said once, not once per refused request.
    assert caplog.text.count("Asked the public display too often from crowd") == 1
