"""The development helpers' ports: parallel test workers never pick the same one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioe_dev.processes import free_port


@pytest.mark.parametrize(("worker", "share"), [("gw0", 0), ("gw1", 1), ("gw2", 2)])
def test_each_worker_takes_its_own_share_of_ports(
    monkeypatch: pytest.MonkeyPatch, allow_local_sockets: None, worker: str, share: int
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    assert {free_port() % 3 for _ in range(20)} == {share}


def test_outside_xdist_any_free_port_will_do(
    monkeypatch: pytest.MonkeyPatch, allow_local_sockets: None
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50  # never the same port twice
    # Below the kernel's ephemeral range: no outgoing connection can take one first.
    start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(1024 <= port < start for port in ports)
