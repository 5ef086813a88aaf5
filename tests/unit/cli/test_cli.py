"""The facesift command as a user runs it: a subprocess, real photos, exit codes, no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facesift.demo import build


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACESIFT_DATA_DIR=str(data_dir), COLUMNS="200")
    result = subprocess.run(
        [sys.executable, "-c", "from facesift.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    probe = build(folder / "photos")
    data = folder / "data"
    run("init", data_dir=data)
    run(
        "source",
        "add",
        "demo",
        "--basis",
        "consent",
        "--jurisdiction",
        "GB",
        "--retention-days",
        "30",
        data_dir=data,
    )
    ingest = run(
        "ingest",
        str(folder / "photos" / "gallery"),
        "--source",
        "demo",
        "--workers",
        "2",
        data_dir=data,
    )
    return data, probe, folder / "photos" / "gallery", ingest


def test_ingest_summary_names_errors(gallery):
    *_, ingest = gallery
    assert "images ingested" in ingest.stdout and "11" in ingest.stdout
    assert "truncated.jpg" in ingest.stderr and "corrupt or truncated" in ingest.stderr


def test_search_json_has_ranked_leads_with_provenance(gallery):
    data, probe, _, _ = gallery
    out = json.loads(run("search", str(probe), "--json", data_dir=data).stdout)
    (face,) = out["faces"]
    leads = face["leads"]
    assert Path(leads[0]["image_path"]).name.startswith("collins-")
    assert {lead["source"] for lead in leads} == {"demo"}
    assert all(lead["false_match_rate"] <= 1e-3 for lead in leads)
    assert out["notice"] == "investigative leads, not identifications"


def test_search_table_for_people(gallery):
    data, probe, _, _ = gallery
    out = run("search", str(probe), data_dir=data).stdout
    assert (
        "Probe face 1" in out and "false-match rate" in out and "Leads, not identifications" in out
    )


def test_verify_json(gallery):
    data, probe, folder, _ = gallery
    same = json.loads(
        run(
            "verify", str(probe), str(folder / "collins-tilted.jpg"), "--json", data_dir=data
        ).stdout
    )
    assert same["same_person"] is True and same["distance"] < same["threshold"]
    text = run("verify", str(probe), str(folder / "hopper-original.jpg"), data_dir=data).stdout
    assert "different people" in text


def test_stats_and_index_check(gallery):
    data, *_ = gallery
    stats = json.loads(run("stats", "--json", data_dir=data).stdout)
    assert stats["images"] == 11 and stats["faces"] == 12 and stats["index_size"] == 12
    assert stats["index_kind"].startswith("exact")
    assert "missing from index 0, extra in index 0" in run("index", "check", data_dir=data).stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", "missing.jpg"], 3, "missing.jpg: cannot read file"),
        (["ingest", "nowhere", "--source", "demo"], 3, "nowhere: no such file or folder"),
        (
            [
                "source",
                "add",
                "x",
                "--basis",
                "vibes",
                "--jurisdiction",
                "GB",
                "--retention-days",
                "1",
            ],
            2,
            "'vibes' is not one of",
        ),
        (
            [
                "source",
                "add",
                "x",
                "--basis",
                "consent",
                "--jurisdiction",
                "Britain",
                "--retention-days",
                "1",
            ],
            4,
            "not an ISO 3166-1 alpha-2 code",
        ),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_code(gallery, args, code, message):
    data, *_ = gallery
    result = run(*args, data_dir=data, check=False)
    assert result.returncode == code
    assert message in " ".join((result.stderr + result.stdout).split())


def test_ingest_into_unknown_source(gallery, tmp_path):
    data, probe, _, _ = gallery
    result = run("ingest", str(probe), "--source", "web-scrape", data_dir=data, check=False)
    assert result.returncode == 4 and "unknown source 'web-scrape'; known: demo" in result.stderr
