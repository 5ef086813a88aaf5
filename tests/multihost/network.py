"""Hosts for the multi-host tests: Linux network namespaces on one machine, joined by a bridge.

Each host is a network namespace with its own loopback, one veth into the bridge and an address
on 10.231.0.0/24, so a server it runs is reachable only at that address, across the bridge,
as on a separate machine. The bridge's own address (.1) is the test's console, from which the
test watches PostgreSQL. What namespaces do not separate: the filesystem and the process table.
So every Ray node gets a temporary folder of its own (Ray's unix sockets live there, and a
shared one would let a process talk to another host's raylet without the network), and a
host's processes are found and killed by namespace (``ip netns pids``), never by name.

Everything is made with ``ip`` (iproute2) as root and torn down whatever happens: on exit from
``Network``, and, for a run that was itself killed, at the start of the next run (names carry
the creating process's id, and a namespace whose creator is gone is removed).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "fsmh"  # every namespace, bridge and veth these tests make starts with it
SUBNET = "10.231.0"
CONSOLE = f"{SUBNET}.1"


def why_not_available() -> str | None:
    """Why this machine cannot make hosts, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed (apt-get install iproute2)"
    probe = f"{PREFIX}probe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


@dataclass
class Host:
    name: str  # the host's part of the names: pg, head, ...
    namespace: str
    address: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(
        self, argv: Sequence[str], *, timeout: float = 300, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` on this host to completion (stdout and stderr captured as text)."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(
            self.command(argv), capture_output=True, text=True, timeout=timeout, **kwargs
        )

    def start(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` on this host in its own process group (stdout and stderr piped)."""
        process = subprocess.Popen(
            self.command(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            **kwargs,
        )
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        listed = _ip("netns", "pids", self.namespace, check=False)
        return [int(pid) for pid in listed.stdout.split()]

    def power_off(self) -> None:
        """What a host's sudden death looks like to the others: every process on it killed at
        once (SIGKILL), its network left in place for a later restart."""
        for _ in range(5):  # processes may fork while they are being killed
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)


class Network:
    """``with Network(["pg", "head", ...]) as hosts:`` hosts by name, addresses .2, .3, ..."""

    def __init__(self, names: Sequence[str]):
        tag = f"{PREFIX}{os.getpid()}"
        self.bridge = f"{tag}br"[:15]
        self.hosts = {
            name: Host(name, f"{tag}-{name}", f"{SUBNET}.{number}")
            for number, name in enumerate(names, start=2)
        }
        self._tag = tag
        self._veths: list[str] = []

    def __enter__(self) -> dict[str, Host]:
        remove_leftovers()
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{CONSOLE}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for number, host in enumerate(self.hosts.values()):
                outside, inside = f"{self._tag}v{number}"[:15], f"{self._tag}p{number}"[:15]
                self._veths.append(outside)
                _ip("netns", "add", host.namespace)
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("link", "set", inside, "netns", host.namespace)
                _ip("link", "set", outside, "master", self.bridge)
                _ip("link", "set", outside, "up")
                inns = ("-n", host.namespace)
                _ip(*inns, "link", "set", "lo", "up")
                _ip(*inns, "addr", "add", f"{host.address}/24", "dev", inside)
                _ip(*inns, "link", "set", inside, "up")
                # A default route, as a real host has: Ray finds its own address by asking which
                # source address a packet to the outside would leave from.
                _ip(*inns, "route", "add", "default", "via", CONSOLE)
        except BaseException:
            self.close()
            raise
        return self.hosts

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for host in self.hosts.values():
            for process in host.processes:
                if process.poll() is None:
                    _kill_group(process)
                process.communicate(timeout=30)  # reaped, and its pipes closed
            host.power_off()
            _ip("netns", "del", host.namespace, check=False)
        # Deleting a namespace deletes its veth ends and their peers, but only in the background:
        # delete each pair now, so that nothing is left once this returns.
        for veth in self._veths:
            _ip("link", "del", veth, check=False)
        _ip("link", "del", self.bridge, check=False)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def remove_leftovers() -> None:
    """Remove the namespaces and links an earlier, killed run left behind (its pid is gone)."""
    for namespace in _ip("netns", "list", check=False).stdout.split("\n"):
        name = namespace.split(" ")[0]
        if name.startswith(PREFIX) and not _creator_alive(name):
            Host(name, name, "").power_off()
            _ip("netns", "del", name, check=False)
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():  # bridge, veths
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX) and not _creator_alive(name):
            _ip("link", "del", name, check=False)


def _creator_alive(name: str) -> bool:
    """Whether the process that made ``name`` (fsmh<pid>br, fsmh<pid>v0, fsmh<pid>-pg) lives."""
    pid = re.match(r"\d+", name[len(PREFIX) :])
    return pid is not None and Path(f"/proc/{int(pid.group())}").exists()
