"""facesift deployed on four hosts: PostgreSQL, a Ray head, a Ray worker and the facesift driver.

The hosts are network namespaces made by the test itself (tests/multihost/network.py): each
server listens only on its host's address, so every catalog query, every task and every image
crosses the network. The driver ingests a folder with analysis on the cluster, the worker host
dies in the middle of it (every process on it killed at once), and the same command, run again
once a worker is back, finishes the ingest: every photo once, nothing lost, nothing doubled,
catalog and index in agreement. Then a search finds a person's photos across the cluster and
the person's erasure leaves no face of them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.lfw_sample import people, search_sample
from tests.multihost.network import CONSOLE, Host, Network, why_not_available

pytestmark = [pytest.mark.multihost, pytest.mark.lfw, pytest.mark.slow]

POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
RAY = str(Path(sys.executable).parent / "ray")
CLI = [sys.executable, "-c", "from facesift.cli.app import main; main()"]
RAY_PORT = 6379
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # per node; Ray's default is 30% of the machine's memory
CASE = ["--purpose", "multi-host test", "--case", "MH-1"]


# The cluster's shared secret, as a deployment would give it to every node and driver. Ray
# decides on token authentication by itself otherwise: a node started where ~/.ray/auth_token
# exists (a local ray.init() writes one, as tests/unit/ingest does) turns it on, a node without
# one does not, and then the nodes cannot join each other ("InvalidAuthToken").
CLUSTER_TOKEN = secrets.token_hex(32)


def outside_env(token: str = CLUSTER_TOKEN, **more: str) -> dict[str, str]:
    """This process's environment without Ray's variables (a Ray started in this process by an
    earlier test leaves its session's settings there), with the cluster's token auth set."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("RAY_")}
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    return {**kept, **auth, "RAY_USAGE_STATS_ENABLED": "0", **more}


class Cluster:
    def __init__(self, hosts: dict[str, Host], catalog_url: str, root: Path):
        self.hosts = hosts
        self.catalog_url = catalog_url
        self.root = root
        self.ray_address = f"{hosts['head'].address}:{RAY_PORT}"
        self.data_dir = root / "driver-data"  # the driver's own disk: index and calibration
        self.ray_folders: list[Path] = []

    def start_ray_node(self, host: Host, cpus: int) -> None:
        """Join ``host`` to the cluster (the head when it is the head's host)."""
        # Its own sockets (see network.py), under a short path: a unix socket's path is at
        # most 107 bytes, and Ray's lie four folders deep.
        temp = Path(tempfile.mkdtemp(prefix=f"fsmh-{host.name}-", dir="/tmp"))
        self.ray_folders.append(temp)
        role = (
            ["--head", f"--port={RAY_PORT}", "--include-dashboard=false"]
            if host.name == "head"
            else [f"--address={self.ray_address}"]
        )
        started = host.run(
            [
                RAY,
                "start",
                *role,
                f"--node-ip-address={host.address}",
                f"--num-cpus={cpus}",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
                f"--temp-dir={temp}",
                "--disable-usage-stats",
            ],
            env=outside_env(),
            timeout=180,
        )
        assert started.returncode == 0, started.stderr[-3000:]

    def ask_cluster(self, token: str = CLUSTER_TOKEN) -> subprocess.CompletedProcess:
        """Connect from the driver's host with ``token`` and print the live nodes' CPUs."""
        return self.hosts["driver"].run(
            [
                sys.executable,
                "-c",
                f"import ray; ray.init(address={self.ray_address!r}, log_to_driver=False); "
                "print('CPUS', sum(n['Resources'].get('CPU', 0)"
                " for n in ray.nodes() if n['Alive']))",
            ],
            env=outside_env(token),
            timeout=120,
        )

    def cluster_cpus(self) -> float:
        """The CPUs of the cluster's live nodes, as the driver's host sees them."""
        asked = self.ask_cluster()
        assert asked.returncode == 0, asked.stderr[-3000:]
        # Ray's driver prints the cluster's error messages (a node marked dead) on stdout too.
        (line,) = [line for line in asked.stdout.splitlines() if line.startswith("CPUS ")]
        return float(line.split()[1])

    def wait_for_cpus(self, cpus: float, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while (seen := self.cluster_cpus()) != cpus:
            assert time.monotonic() < deadline, f"the cluster has {seen} CPUs, not {cpus}"
            time.sleep(2)

    def env(self, operator: str) -> dict[str, str]:
        return outside_env(
            FACESIFT_DATA_DIR=str(self.data_dir),
            FACESIFT_CATALOG_URL=self.catalog_url,
            FACESIFT_OPERATOR=operator,
        )

    def facesift(self, *args: str, operator: str = "admin") -> subprocess.CompletedProcess:
        return self.hosts["driver"].run([*CLI, *args], env=self.env(operator), timeout=900)

    def start_ingest(self, folder: Path, source: str = "lfw") -> subprocess.Popen:
        return self.hosts["driver"].start(
            [*CLI, "ingest", str(folder), "--source", source, "--ray", self.ray_address, "--json"],
            env=self.env("admin"),
        )

    def catalog(self):
        """The catalog database, reached from the console across the bridge."""
        from sqlalchemy import create_engine

        return create_engine(self.catalog_url.replace(self.hosts["pg"].address, CONSOLE, 0))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, lfw_root):
    reason = why_not_available()
    if reason:
        pytest.skip(f"no hosts for the multi-host tests: {reason}")
    pytest.importorskip("ray", reason="the facesift[ray] extra is not installed")
    pytest.importorskip("psycopg", reason="the facesift[postgres] extra is not installed")
    # Installing needs the internet, which the server's host does not have: install here first.
    installed = subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), "install"], capture_output=True, text=True, timeout=900
    )
    if installed.returncode != 0:
        pytest.skip(f"no PostgreSQL server for the multi-host tests: {installed.stderr.strip()}")
    root = tmp_path_factory.mktemp("multihost")
    with Network(["pg", "head", "worker", "worker2", "driver"]) as hosts:
        pg = hosts["pg"]
        started = pg.run(
            ["bash", str(POSTGRES_SCRIPT), "start"],
            env=dict(os.environ, FACESIFT_PG_LISTEN=pg.address),
        )
        assert started.returncode == 0, started.stderr
        values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
        cluster = Cluster(hosts, values["FACESIFT_CATALOG_URL"], root)
        try:
            assert pg.address in values["FACESIFT_CATALOG_URL"]
            cluster.start_ray_node(hosts["head"], cpus=0)  # schedules, analyses nothing
            # One CPU: slow enough that the worker's death lands in the middle of the ingest.
            cluster.start_ray_node(hosts["worker"], cpus=1)
            cluster.start_ray_node(hosts["driver"], cpus=0)  # a Ray driver runs on a node
            yield cluster
        finally:
            hosts["worker"].power_off()
            hosts["worker2"].power_off()
            hosts["head"].power_off()
            hosts["driver"].power_off()
            subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop", values["FACESIFT_PG_DIR"]])
            for folder in cluster.ray_folders:
                shutil.rmtree(folder, ignore_errors=True)


def committed_images(cluster: Cluster, source: str = "lfw") -> int:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    engine = cluster.catalog()
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "select count(*) from images join sources on sources.id = images.source_id"
                    " where sources.name = :source"
                ),
                {"source": source},
            ).scalar_one()
    except (OperationalError, ProgrammingError):
        return 0  # the table is not there yet
    finally:
        engine.dispose()


def catalog_figures(cluster: Cluster) -> dict[str, int]:
    from sqlalchemy import text

    engine = cluster.catalog()
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "select count(*), count(distinct sha256), coalesce(sum(face_count), 0),"
                    " (select count(*) from faces) from images"
                )
            ).one()
    finally:
        engine.dispose()
    return dict(zip(["images", "distinct_contents", "declared_faces", "faces"], row, strict=True))


def assert_catalog_and_index_agree(cluster: Cluster) -> None:
    checked = cluster.facesift("index", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def linked_folder(folder: Path, files: list[Path]) -> Path:
    """A folder of links to ``files`` (LFW's photos are never copied)."""
    folder.mkdir()
    for file in files:
        (folder / file.name).symlink_to(file)
    return folder


@pytest.fixture(scope="module")
def sample(lfw_root, tmp_path_factory):
    """290 photos: 30 people with 3 photos each (a 4th held out as a probe), 200 singles."""
    gallery, probes, distractors, _ = search_sample(lfw_root, count=30, distractors=200)
    files = [f for files in gallery.values() for f in files] + distractors
    folder = linked_folder(tmp_path_factory.mktemp("sample") / "photos", files)
    return folder, gallery, probes


@pytest.fixture(scope="module")
def gallery(cluster):
    """An administrator, an investigator and two sources, in the catalog on the pg host."""
    steps = [
        ["init", "--admin", "admin"],
        ["user", "add", "investigator", "--role", "investigator"],
    ]
    for source in ("lfw", "lfw-more"):
        steps.append(
            ["source", "add", source, "--basis", "legitimate-interest", "--jurisdiction", "US",
             "--retention-days", "365", "--purpose", "multi-host test", "--controller",
             "dpo@example.org"]
        )  # fmt: skip
    for step in steps:
        done = cluster.facesift(*step)
        assert done.returncode == 0, done.stderr
    return cluster


def test_ingest_stopped_by_its_only_worker_dying_resumes_then_search_and_erase_work(
    gallery, sample
):
    cluster = gallery
    folder, gallery, probes = sample
    total = len(list(folder.iterdir()))

    # The worker host dies once the first batch is in the catalog.
    ingest = cluster.start_ingest(folder)
    deadline = time.monotonic() + 600
    while committed_images(cluster) == 0:
        assert ingest.poll() is None, ingest.communicate()
        assert time.monotonic() < deadline, "the ingest committed nothing"
        time.sleep(0.1)
    cluster.hosts["worker"].power_off()
    _, err = ingest.communicate(timeout=600)
    assert ingest.returncode != 0, "the ingest finished before its worker died"
    said = " ".join(err.split())  # the terminal's line breaks aside
    assert "a Ray worker failed" in said and "run the same command again to resume" in said, err
    assert "Traceback" not in err
    partial = catalog_figures(cluster)
    assert 0 < partial["images"] < total
    assert partial["distinct_contents"] == partial["images"]
    assert partial["declared_faces"] == partial["faces"]
    assert_catalog_and_index_agree(cluster)

    # A new worker joins; the same command resumes where the catalog stands.
    cluster.start_ray_node(cluster.hosts["worker"], cpus=2)
    cluster.wait_for_cpus(2)
    again = cluster.start_ingest(folder)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    summary = json.loads(out)
    assert summary["already_in_catalog"] == partial["images"]
    assert summary["images_ingested"] + summary["already_in_catalog"] == total
    whole = catalog_figures(cluster)
    assert whole["images"] == whole["distinct_contents"] == total  # every photo, once
    assert whole["declared_faces"] == whole["faces"] >= total
    assert_catalog_and_index_agree(cluster)

    # Search across the cluster: a held-out photo finds the person's gallery photos first.
    person, probe = next(iter(probes.items()))
    wanted = {file.name for file in gallery[person]}
    searched = cluster.facesift("search", str(probe), *CASE, "--json", operator="investigator")
    assert searched.returncode == 0, searched.stderr
    (face,) = json.loads(searched.stdout)["faces"]
    found = [Path(lead["image_path"]).name for lead in face["leads"]]
    assert set(found[: len(wanted)]) == wanted, (person, found)

    # Their erasure, by the same photo, leaves no face of them, in the catalog or the index.
    erased = cluster.facesift("subject", "erase", str(probe), "--yes")
    assert erased.returncode == 0, erased.stderr
    after = catalog_figures(cluster)
    assert after["images"] == total - len(wanted)
    searched = cluster.facesift("search", str(probe), *CASE, "--json", operator="investigator")
    assert searched.returncode == 0, searched.stderr
    (face,) = json.loads(searched.stdout)["faces"]
    assert not wanted & {Path(lead["image_path"]).name for lead in face["leads"]}
    assert_catalog_and_index_agree(cluster)
    # The audit trail, kept in PostgreSQL, holds every step intact, the interrupted run's too.
    verified = cluster.facesift("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_worker_host_dying_mid_ingest_leaves_its_images_to_the_other_worker(
    gallery, lfw_root, tmp_path
):
    cluster = gallery
    # Other photos than the first test's: one-photo people past its 200 distractors.
    singles = [files[0] for files in people(lfw_root).values() if len(files) == 1][300:560]
    folder = linked_folder(tmp_path / "more", singles)
    before = cluster.cluster_cpus()
    assert before >= 1, "the first worker host is not up"
    cluster.start_ray_node(cluster.hosts["worker2"], cpus=1)
    cluster.wait_for_cpus(before + 1)

    ingest = cluster.start_ingest(folder, source="lfw-more")
    deadline = time.monotonic() + 600
    while committed_images(cluster, "lfw-more") == 0:
        assert ingest.poll() is None, ingest.communicate()
        assert time.monotonic() < deadline, "the ingest committed nothing"
        time.sleep(0.1)
    cluster.hosts["worker2"].power_off()
    out, err = ingest.communicate(timeout=900)
    # The run goes on without the dead host: no second command, nothing lost or doubled.
    assert ingest.returncode == 0, err
    assert "a Ray actor died" in err, "the worker host died after the ingest had finished"
    assert out.strip(), f"exit 0 but no summary on stdout; stderr: {err[-3000:]}"
    summary = json.loads(out)
    assert summary["images_ingested"] == len(singles)
    assert committed_images(cluster, "lfw-more") == len(singles)
    whole = catalog_figures(cluster)
    assert whole["images"] == whole["distinct_contents"]
    assert whole["declared_faces"] == whole["faces"]
    assert_catalog_and_index_agree(cluster)


def test_a_driver_without_the_cluster_token_is_refused(gallery, lfw_root, tmp_path):
    """Anyone who can reach a Ray cluster without token auth can run code on every node and read
    every photo in flight: the deployment runs with a token, and a wrong one gets nothing."""
    cluster = gallery
    singles = [files[0] for files in people(lfw_root).values() if len(files) == 1][600:610]
    folder = linked_folder(tmp_path / "unseen", singles)
    before = committed_images(cluster, "lfw-more")
    wrong = {**cluster.env("admin"), "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    refused = cluster.hosts["driver"].run(
        [*CLI, "ingest", str(folder), "--source", "lfw-more", "--ray", cluster.ray_address],
        env=wrong,
        timeout=300,
    )
    said = " ".join(refused.stderr.split())
    assert refused.returncode != 0, refused.stdout
    # Ray retries, logs the GCS's refusal, then gives up with a plain connection error.
    assert "InvalidAuthToken" in said, refused.stderr[-3000:]
    assert "cannot connect to the Ray cluster" in said and "RAY_AUTH_TOKEN" in said, said[-3000:]
    assert "Traceback" not in refused.stderr
    assert committed_images(cluster, "lfw-more") == before
    assert cluster.ask_cluster(token=secrets.token_hex(32)).returncode != 0  # Ray's own client too
    assert cluster.cluster_cpus() >= 1  # and the right token still gets in
