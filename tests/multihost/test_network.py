"""The hosts the multi-host tests stand on: separate, reachable by address, and always removed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.multihost.network import PREFIX, Host, Network, remove_leftovers, why_not_available

pytestmark = pytest.mark.multihost

reason = why_not_available()
if reason:
    pytestmark = [pytest.mark.multihost, pytest.mark.skip(reason=f"no hosts: {reason}")]

LISTEN = (
    "import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 7000)); s.listen();"
    " print('ready', flush=True); c, _ = s.accept(); c.sendall(b'hello'); c.close()"
)
CONNECT = (
    "import socket, sys; s = socket.create_connection((sys.argv[1], 7000), timeout=5);"
    " print(s.recv(5).decode())"
)


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split(" ")[0] for line in listed.stdout.splitlines()}


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def test_a_server_is_reached_at_its_host_address_and_not_on_another_host_loopback():
    with Network(["server", "client"]) as hosts:
        server, client = hosts["server"], hosts["client"]
        on_loopback = server.start([sys.executable, "-c", LISTEN, "127.0.0.1"])
        assert on_loopback.stdout.readline().strip() == "ready"
        # The client's loopback is its own: the server's loopback port is not there.
        refused = client.run([sys.executable, "-c", CONNECT, "127.0.0.1"], timeout=30)
        assert refused.returncode != 0 and "ConnectionRefusedError" in refused.stderr
        on_loopback.kill()

        listening = server.start([sys.executable, "-c", LISTEN, server.address])
        assert listening.stdout.readline().strip() == "ready"
        reached = client.run([sys.executable, "-c", CONNECT, server.address], timeout=30)
        assert reached.returncode == 0, reached.stderr
        assert reached.stdout.strip() == "hello"


def test_hosts_and_their_processes_are_removed_when_the_test_fails():
    with pytest.raises(RuntimeError, match="the test failed"):
        with Network(["a", "b"]) as hosts:
            made = {host.namespace for host in hosts.values()}
            sleeper = hosts["a"].start(["sleep", "600"])
            assert made <= namespaces()
            raise RuntimeError("the test failed")
    assert not made & namespaces()
    assert sleeper.wait(timeout=30) != 0
    assert f"{PREFIX}{os.getpid()}" not in links()


def test_what_a_killed_run_left_is_removed_by_the_next():
    dead = _a_dead_pid()
    stale = Host("x", f"{PREFIX}{dead}-x", "")
    subprocess.run(["ip", "netns", "add", stale.namespace], check=True)
    left_running = subprocess.Popen(stale.command(["sleep", "600"]))
    try:
        remove_leftovers()
        assert stale.namespace not in namespaces()
        assert left_running.wait(timeout=30) != 0
    finally:
        left_running.kill()
        subprocess.run(["ip", "netns", "del", stale.namespace], capture_output=True)


def _a_dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid  # exited and reaped: no process has this id now (until reused)
