"""The facesift command as a user runs it: a subprocess, real photos, exit codes, no tracebacks."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from facesift.demo import build

CASE = ["--purpose", "testing the CLI", "--case", "T-1"]
TERMS = ["--purpose", "testing", "--controller", "dpo@example.org"]


def run(
    *args: str,
    data_dir: Path,
    check: bool = True,
    operator: str = "admin",
    stdin: str = "",
    **environment: str,
) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        FACESIFT_DATA_DIR=str(data_dir),
        COLUMNS="200",
        FACESIFT_OPERATOR=operator,
        **environment,
    )
    result = subprocess.run(
        [sys.executable, "-c", "from facesift.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        input=stdin,
    )
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def add_source(data_dir: Path, name: str) -> subprocess.CompletedProcess:
    """Declare a 30-day legitimate-interest source in GB through the CLI."""
    return run(
        "source",
        "add",
        name,
        "--basis",
        "legitimate-interest",
        "--jurisdiction",
        "GB",
        "--retention-days",
        "30",
        *TERMS,
        data_dir=data_dir,
    )


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    probe = build(folder / "photos")
    data = folder / "data"
    init = run("init", data_dir=data, operator="")
    assert "administrator admin created" in init.stdout and "fs_" in init.stdout
    run("user", "add", "ina", "--role", "investigator", data_dir=data)
    run("user", "add", "audrey", "--role", "auditor", data_dir=data)
    add_source(data, "demo")
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
    out = json.loads(
        run("search", str(probe), *CASE, "--json", data_dir=data, operator="ina").stdout
    )
    (face,) = out["faces"]
    leads = face["leads"]
    assert Path(leads[0]["image_path"]).name.startswith("collins-")
    assert {lead["source"] for lead in leads} == {"demo"}
    assert all(lead["false_match_rate"] <= 1e-3 for lead in leads)
    assert out["notice"] == "investigative leads, not identifications"


def test_search_table_for_people(gallery):
    data, probe, _, _ = gallery
    out = run("search", str(probe), *CASE, data_dir=data, operator="ina").stdout
    assert "Probe face 1" in out and "Leads, not identifications" in out
    # Rates in the one plain format, and what a stranger's search would return in this gallery.
    assert "strangers this close" in out and re.search(r"1 in [\d,]+( million)?; ", out)
    assert re.search(r"Compared with \d+ gallery faces", out)
    assert "chance that at least" in out


def test_search_says_when_its_list_was_cut_at_top_k(gallery):
    data, probe, _, _ = gallery
    cut = json.loads(
        run(
            "search", str(probe), *CASE, "--top-k", "1", "--json", data_dir=data, operator="ina"
        ).stdout  # fmt: skip
    )
    assert len(cut["faces"][0]["leads"]) == 1 and cut["faces"][0]["cut_at_top_k"] is True
    assert cut["odds"]["compared_with"] >= 10 and 0 < cut["odds"]["chance_of_a_false_lead"] < 1
    whole = json.loads(
        run(
            "search", str(probe), *CASE, "--top-k", "100", "--json", data_dir=data, operator="ina"
        ).stdout  # fmt: skip
    )
    assert whole["faces"][0]["cut_at_top_k"] is False
    shown = run("search", str(probe), *CASE, "--top-k", "1", data_dir=data, operator="ina")
    assert "the list was cut at --top-k" in shown.stdout


def test_verify_says_which_face_of_a_group_photo_it_compared(gallery):
    data, probe, folder, _ = gallery
    group = next(folder.glob("group-*.jpg"))
    out = run("verify", str(group), str(probe), *CASE, data_dir=data, operator="ina").stdout
    assert re.search(r"the first photo holds \d faces: compared the main one", out)
    assert "the second photo holds" not in out  # a portrait: nothing to say


def test_search_needs_purpose_and_case(gallery):
    data, probe, _, _ = gallery
    result = run("search", str(probe), data_dir=data, operator="ina", check=False)
    assert result.returncode == 3 and "needs a purpose" in result.stderr


def test_verify_json(gallery):
    data, probe, folder, _ = gallery
    same = json.loads(
        run(
            "verify",
            str(probe),
            str(folder / "collins-tilted.jpg"),
            *CASE,
            "--json",
            data_dir=data,
            operator="ina",
        ).stdout
    )
    assert same["same_person"] is True and same["distance"] < same["threshold"]
    text = run(
        "verify",
        str(probe),
        str(folder / "hopper-original.jpg"),
        *CASE,
        data_dir=data,
        operator="ina",
    ).stdout
    assert "different people" in text


def test_stats_and_index_check(gallery):
    data, *_ = gallery
    stats = json.loads(run("stats", "--json", data_dir=data).stdout)
    assert stats["images"] == 11 and stats["faces"] >= 12
    assert stats["index_size"] == stats["faces"]
    assert stats["index_kind"].startswith("exact")
    assert "missing from index 0, extra in index 0" in run("index", "check", data_dir=data).stdout


def test_roles_are_enforced_with_a_clear_message(gallery):
    data, probe, _, _ = gallery
    refused = run("search", str(probe), *CASE, data_dir=data, operator="audrey", check=False)
    assert refused.returncode == 7
    assert "operator 'audrey' (auditor) may not search; allowed for: investigator" in refused.stderr
    nobody = run("search", str(probe), *CASE, data_dir=data, operator="mallory", check=False)
    assert nobody.returncode == 7 and "unknown operator 'mallory'" in nobody.stderr
    anonymous = run("stats", data_dir=data, operator="", check=False)
    assert anonymous.returncode == 1 and "FACESIFT_OPERATOR" in anonymous.stderr


def test_subject_access_html_and_audit(gallery, tmp_path):
    data, probe, _, _ = gallery
    report = tmp_path / "report.html"
    out = run(
        "subject", "access", str(probe), "--html", str(report), "--json", data_dir=data
    ).stdout
    held = json.loads(out)["faces"]
    assert held and all(
        "collins" in h["image"]["path"] or "group" in h["image"]["path"] for h in held
    )
    page = report.read_text()
    assert page.count("data:image/jpeg;base64,") == len(held)
    assert "Your selfie was not kept" in page
    # The report goes to the person: no claim that a person checked it (nobody did here), and
    # no server paths, only file names.
    assert "have not been checked by a person" in page and "a person checked each" not in page
    assert str(Path(held[0]["image"]["path"]).parent) not in page
    assert Path(held[0]["image"]["path"]).name in page
    assert re.search(r"false-match rate (fewer than )?1 in ", page)
    verified = run("audit", "verify", data_dir=data, operator="audrey").stdout
    assert "audit trail intact" in verified
    shown = json.loads(
        run(
            "audit", "show", "--action", "search", "--json", data_dir=data, operator="audrey"
        ).stdout
    )
    assert shown and all(r["actor"] == "ina" and r["case_ref"] == "T-1" for r in shown)


def test_report_processing(gallery):
    data, *_ = gallery
    text = run("report", "processing", data_dir=data, operator="audrey").stdout
    assert "Record of processing activities" in text and "legitimate-interest" in text
    assert "investigator: ina" in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", "missing.jpg", *CASE], 3, "missing.jpg: cannot read file"),
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
                *TERMS,
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
                *TERMS,
            ],
            4,
            "not an assigned ISO 3166-1 alpha-2",
        ),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_code(gallery, args, code, message):
    data, *_ = gallery
    operator = "ina" if args[0] == "search" else "admin"
    result = run(*args, data_dir=data, check=False, operator=operator)
    assert result.returncode == code
    assert message in " ".join((result.stderr + result.stdout).split())


def test_ingest_into_unknown_source(gallery):
    data, probe, _, _ = gallery
    result = run("ingest", str(probe), "--source", "web-scrape", data_dir=data, check=False)
    assert result.returncode == 4 and "unknown source 'web-scrape'; known: demo" in result.stderr


def test_cluster_identities_and_duplicates(gallery, tmp_path):
    data, probe, _, _ = gallery
    out = json.loads(run("cluster", "--json", data_dir=data, operator="ina").stdout)
    assert out["report"]["faces_assigned"] >= 12
    identities = out["identities"]
    assert len(identities) >= 2 and identities[0]["faces"] >= 5  # Collins and Hopper, 5-6 each
    biggest = identities[0]["id"]
    run("identity", "name", str(biggest), "Subject A", data_dir=data, operator="ina")
    listed = json.loads(run("identity", "list", "--json", data_dir=data, operator="ina").stdout)
    assert any(i["name"] == "Subject A" and i["locked"] for i in listed)
    refused = run("identity", "name", "999999", "x", data_dir=data, operator="ina", check=False)
    assert refused.returncode == 3 and "no identity with id 999999" in refused.stderr
    search = json.loads(
        run("search", str(probe), *CASE, "--json", data_dir=data, operator="ina").stdout
    )
    assert all(lead["identity_id"] for lead in search["faces"][0]["leads"])
    pairs_csv = tmp_path / "pairs.csv"
    pairs = json.loads(
        run(
            "duplicates",
            "--source",
            "demo",
            "--csv",
            str(pairs_csv),
            "--json",
            data_dir=data,
            operator="ina",
        ).stdout
    )
    assert pairs["threshold"] > 0 and pairs["expected_false_pairs"] < 1
    pairs = pairs["pairs"]
    assert pairs and pairs_csv.read_text().count("\n") == len(pairs) + 1
    assert all(p["record_a"] != p["record_b"] for p in pairs)


def test_cluster_lists_identities_only_to_those_who_may_view_them(gallery):
    """Regression: `facesift cluster` printed the identity list to an administrator, whom
    `identity list` refuses (clustering is permitted to them, seeing identities is not)."""
    data, _, _, _ = gallery
    refused = run("identity", "list", "--json", data_dir=data, operator="admin", check=False)
    assert refused.returncode == 7 and "may not identity-view" in refused.stderr
    out = json.loads(run("cluster", "--json", data_dir=data, operator="admin").stdout)
    assert out["report"]["faces_considered"] >= 12 and "identities" not in out
    table = run("cluster", data_dir=data, operator="admin").stdout
    assert "identities not listed: admin may not view identities" in table
    assert "Identities with at least" not in table
    viewer = json.loads(run("cluster", "--json", data_dir=data, operator="ina").stdout)
    assert viewer["identities"]


def test_backends_lists_every_embedder_and_detector(tmp_path):
    listed = run("backends", data_dir=tmp_path).stdout
    line = next(line for line in listed.splitlines() if line.startswith("embedders:"))
    embedders = set(line.removeprefix("embedders:").strip().split(", "))
    assert {"dlib-resnet", "onnx-arcface", "reid-0095"} <= embedders
    assert "detectors: " in listed and "dlib-hog" in listed


def test_a_search_is_kept_and_its_case_exported_and_verified(gallery, tmp_path):
    """The CLI's search prints the id it was kept under; the case's evidence pack is written by
    the investigator, checked by `case verify` and by the pack's own verifier, and a changed
    pack is refused with exit code 1."""
    data, probe, _, _ = gallery
    shown = run("search", str(probe), "--purpose", "pack test", "--case", "CLI-PACK",
                data_dir=data, operator="ina")  # fmt: skip
    assert re.search(r"search \d+ kept for review", shown.stdout)
    assert "facesift case export CLI-PACK" in shown.stdout
    pack = tmp_path / "pack"
    exported = run("case", "export", "CLI-PACK", "--out", str(pack), data_dir=data, operator="ina")
    assert "evidence pack of case CLI-PACK" in exported.stdout and (pack / "case.json").exists()
    checked = run("case", "verify", str(pack), data_dir=data)
    assert "verified" in checked.stdout
    (pack / "case.json").write_text((pack / "case.json").read_text().replace("pack test", "x"))
    refused = run("case", "verify", str(pack), data_dir=data, check=False)
    assert refused.returncode == 1 and "case.json: changed" in refused.stderr
    # Someone else's case, or a case nobody searched in: a clear refusal, no traceback.
    missing = run("case", "export", "NOPE", "--out", str(tmp_path / "x"), data_dir=data,
                  operator="audrey", check=False)  # fmt: skip
    assert missing.returncode != 0 and "no search, verification or review" in missing.stderr


def test_an_administrator_scopes_an_investigators_searches(gallery, tmp_path):
    data, probe, _, _ = gallery
    shown = run("user", "scope", "ina", "--sources", "demo", data_dir=data)
    assert "return faces of: demo" in shown.stdout
    assert "demo" in run("user", "list", data_dir=data).stdout
    refused = run("user", "scope", "ina", "--sources", "nowhere", data_dir=data, check=False)
    assert refused.returncode != 0 and "no source named 'nowhere'" in refused.stderr
    neither = run("user", "scope", "ina", data_dir=data, check=False)
    assert neither.returncode != 0 and "--sources" in neither.stderr
    assert "every source" in run("user", "scope", "ina", "--all", data_dir=data).stdout


def test_a_source_is_edited_and_retired_from_the_cli(gallery, tmp_path):
    data, _, folder, _ = gallery
    add_source(data, "old-notices")
    edited = run("source", "edit", "old-notices", "--purpose", "missing persons", data_dir=data)
    assert "updated" in edited.stdout
    listed = run("source", "list", "--json", data_dir=data).stdout
    assert any(
        s["name"] == "old-notices" and s["purpose"] == "missing persons" for s in json.loads(listed)
    )
    assert "retired" in run("source", "retire", "old-notices", data_dir=data).stdout
    refused = run("ingest", str(folder), "--source", "old-notices", data_dir=data, check=False)
    assert refused.returncode != 0 and "retired" in refused.stderr
    assert "Traceback" not in refused.stderr
