"""The embedded servers' ports: outside the ephemeral range, and a taken port is replaced.

Each test runs its own PostgreSQL or Redis under a temporary SLOTBOOKING_DATA_DIR, so the
servers the rest of the suite uses are never touched.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devserver import embedded

ROOT = Path(__file__).resolve().parents[2]


def embedded_command(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m devserver.embedded …` with its own data dir, as the Makefile runs it."""
    import os

    env = {**os.environ, "SLOTBOOKING_DATA_DIR": str(data_dir)}
    return subprocess.run(  # noqa: S603  # our own interpreter and module
        [sys.executable, "-m", "devserver.embedded", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def client_socket_on(port: int) -> Iterator[socket.socket]:
    """An outgoing connection whose local port is `port`, like one the kernel hands out."""
    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client.bind(("127.0.0.1", port))
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        with accepted:
            yield client


def free_port_outside_ephemeral_range() -> int:
    first, last = embedded.ephemeral_range()
    for port in range(10000, 65536):
        if not first <= port <= last and embedded._port_is_free(port):
            return port
    raise AssertionError("no free port")


def test_preferred_ports_lie_outside_the_kernels_ephemeral_range(tmp_path, monkeypatch):
    first, last = (
        int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    )
    ports = set()
    for n in range(200):
        monkeypatch.setenv("SLOTBOOKING_DATA_DIR", str(tmp_path / str(n)))
        for service in ("postgres", "redis"):
            ports.add(embedded._preferred_port(service))

    assert ports
    assert [port for port in ports if first <= port <= last] == []
    assert min(ports) >= 1024


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_a_recorded_port_held_by_a_client_socket_is_replaced_by_a_free_one(tmp_path, service):
    taken = free_port_outside_ephemeral_range()
    port_file = tmp_path / service / "port"
    port_file.parent.mkdir(parents=True)
    port_file.write_text(f"{taken}\n")

    try:
        with client_socket_on(taken):
            started = embedded_command(tmp_path, service, "start")
            url = embedded_command(tmp_path, service, "url").stdout.strip()
            status = embedded_command(tmp_path, service, "status").stdout.strip()
    finally:
        stopped = embedded_command(tmp_path, service, "stop")

    assert started.returncode == 0, started.stderr
    new_port = int(port_file.read_text())
    assert new_port != taken
    assert f"port {taken} is taken" in started.stderr
    assert url.startswith(("redis://", "postgres://"))
    assert f":{new_port}/" in url
    assert started.stdout.strip() == url
    assert status == "running"
    assert stopped.returncode == 0, stopped.stderr
    assert embedded_command(tmp_path, service, "status").stdout.strip() == "stopped"


def test_a_recorded_port_in_the_ephemeral_range_moves_out_of_it_at_the_next_start(tmp_path):
    first, last = embedded.ephemeral_range()
    inside = next(p for p in range(first, last + 1) if embedded._port_is_free(p))
    port_file = tmp_path / "redis" / "port"
    port_file.parent.mkdir(parents=True)
    port_file.write_text(f"{inside}\n")

    try:
        started = embedded_command(tmp_path, "redis", "start")
    finally:
        embedded_command(tmp_path, "redis", "stop")

    assert started.returncode == 0, started.stderr
    new_port = int(port_file.read_text())
    assert not first <= new_port <= last
