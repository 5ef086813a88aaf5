"""A Milvus server (not Milvus Lite) for the Milvus index's tests.

The PyPI package ``milvus`` (extra ``milvus-server-test``, which ``make test`` installs on Linux
x86-64) is an embedded Milvus 2.3.5 standalone: one ``milvus run standalone`` process with etcd
built in and local storage, no Docker. 2.3.5 is its last release; nothing newer is published.
The session starts it once in a temporary folder, on the first free ports from Milvus's defaults
up (the package picks them), and kills it at the end. Its built-in etcd listens on
127.0.0.1:2380 whatever the configuration says, so one machine runs one such server: the tests
skip, saying so, when that port is taken. FACESIFT_TEST_MILVUS_URI names a running server instead.

Each test gets a collection of its own (``new_collection()``) on the one server.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest

from facesift.types import EmbeddingSpace

START_TIMEOUT_S = 120.0
ETCD_PEER_PORT = 2380  # fixed in the 2.3.5 binary's built-in etcd


class RunningMilvus:
    def __init__(self, uri: str, server: Any = None, base_dir: Path | None = None):
        self.uri, self._server, self.base_dir = uri, server, base_dir
        self._names = itertools.count(1)

    def new_collection(self) -> str:
        return f"contract_{os.getpid()}_{next(self._names)}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # SIGTERM, then SIGKILL after 1 s (its graceful stop can hang)
            self._server = None


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _why_it_stopped(base_dir: Path) -> str:
    """The server's last error, from its logs, for the skip reason."""
    errors: list[str] = []
    for name in ("milvus-stdout.log", "milvus-stderr.log"):
        log = base_dir / "logs" / name
        if log.exists():
            text = log.read_text(errors="replace")
            errors += re.findall(r"\[ERROR\].*|^panic: .*", text, flags=re.MULTILINE)
    return errors[-1][:400] if errors else f"no error logged (see {base_dir / 'logs'})"


def _ready(uri: str, health_url: str) -> bool:
    try:
        with urllib.request.urlopen(health_url, timeout=2) as response:
            if b"OK" not in response.read():
                return False
    except OSError:
        return False
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        client = MilvusClient(uri=uri, timeout=5)
    except MilvusException:
        return False
    try:
        client.list_collections()
        return True
    except MilvusException:
        return False
    finally:
        client.close()


def start_milvus_server(base_dir: Path) -> RunningMilvus:
    """Start the embedded server (or reach FACESIFT_TEST_MILVUS_URI); skip the calling tests with
    the reason when there is none."""
    pytest.importorskip("pymilvus", reason="extra 'milvus' not installed (make test installs it)")
    import facesift.index.milvus  # noqa: F401  (quiets pymilvus's logging of failed calls)

    external = os.environ.get("FACESIFT_TEST_MILVUS_URI")
    if external:
        return RunningMilvus(external)
    milvus = pytest.importorskip(
        "milvus",
        reason="package 'milvus' (an embedded Milvus server, Linux x86-64 only) is not "
        "installed: pip install -e '.[milvus-server-test]' (make test does), or set "
        "FACESIFT_TEST_MILVUS_URI",
    )
    if _port_taken(ETCD_PEER_PORT):
        pytest.skip(
            f"port {ETCD_PEER_PORT} is taken, and the embedded Milvus's etcd always listens "
            "there: is another embedded Milvus (or an etcd) running? Set FACESIFT_TEST_MILVUS_URI "
            "to use a running server"
        )
    server = milvus.MilvusServer(milvus.MilvusServerConfig(), wait_for_started=False)
    server.set_base_dir(str(base_dir))
    try:
        # The package leaves unclosed the socket of each default port it finds taken (a
        # ResourceWarning, an error here) and goes on to the next port: nothing is wrong.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            server.start()  # unpacks the binary into base_dir, then runs it in the background
    except (OSError, RuntimeError) as error:
        server.stop()
        pytest.skip(f"the embedded Milvus server did not start: {error}")
    running = RunningMilvus(f"http://127.0.0.1:{server.listen_port}", server, base_dir)
    health = f"http://127.0.0.1:{server.webservice_port}/healthz"
    deadline = time.monotonic() + START_TIMEOUT_S
    # The package's own wait keeps polling for 180 s after the process has died; this one stops.
    while not _ready(running.uri, health):
        exited = server.server_proc.poll()
        if exited is not None or time.monotonic() > deadline:
            running.stop()
            what = f"exited with {exited}" if exited is not None else "not ready in 120 s"
            pytest.skip(f"the embedded Milvus server {what}: {_why_it_stopped(base_dir)}")
        time.sleep(0.25)
    return running


# Each test module that imports the fixture holds a definition of its own, and a second server
# cannot start beside the first (port 2380): the first definition to run starts the server, the
# others share it (or its skip), and the last one torn down stops it.
_session: dict[str, Any] = {"server": None, "users": 0, "skip": None}


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    if _session["skip"] is not None:
        pytest.skip(_session["skip"])
    if _session["server"] is None:
        try:
            _session["server"] = start_milvus_server(tmp_path_factory.mktemp("milvus-server"))
        except pytest.skip.Exception as skipped:
            _session["skip"] = skipped.msg
            raise
    _session["users"] += 1
    yield _session["server"]
    _session["users"] -= 1
    if _session["users"] == 0:
        _session["server"].stop()
        _session["server"] = None


_collections: dict[Path, str] = {}


def milvus_server_index(folder: Path, space: EmbeddingSpace, server: RunningMilvus):
    """A MilvusIndex on the server, in the collection of ``folder`` (one test): the same
    collection each time it is opened again, so reopening sees what was stored."""
    from facesift.index.milvus import MilvusIndex

    if folder not in _collections:
        _collections[folder] = server.new_collection()
    return MilvusIndex(server.uri, space, collection=_collections[folder])
