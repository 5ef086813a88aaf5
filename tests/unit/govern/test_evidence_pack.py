"""An evidence pack per case (issue #15): complete, verifiable with nothing but Python, and
impossible to change by one byte unnoticed; it respects erasure and roles, and is audited."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facesift import FaceSift, Settings
from facesift.errors import CaseNotFound, PermissionDenied
from facesift.govern import chain
from tests.conftest import add_source, operators


@pytest.fixture()
def casework(photos, tmp_path):
    """A gallery where an investigator searched and verified in case C-7, two reviewers judged
    a lead, and another case was searched with a purpose that must not leak into C-7's pack."""
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, investigator = operators(engine)
        for name, role in (("rev1", "reviewer"), ("rev2", "reviewer"), ("aud", "auditor")):
            engine.add_operator(admin, name, role)
        engine.add_operator(admin, "other", "investigator")
        add_source(engine, admin, "custody")
        engine.ingest(admin, [photos["hopper"], photos["collins"], photos["group"]], "custody")
        record = engine.search_with_id(
            investigator, photos["hopper"], purpose="burglary suspect", case="C-7"
        )
        lead = record.results[0].leads[0]
        for reviewer, note in (("rev1", "same ear shape"), ("rev2", "agree")):
            engine.review_lead(
                engine.operator(name=reviewer), record.search_id, lead.face_id, "confirm", note
            )
        engine.verify(
            investigator, photos["hopper"], photos["group"], purpose="1:1 check", case="C-7"
        )
        engine.search_with_id(
            engine.operator(name="other"),
            photos["collins"],
            purpose="a secret other purpose",
            case="OTHER-1",
        )
        yield engine, record, lead


def verify_standalone(pack: Path) -> subprocess.CompletedProcess:
    """The pack's own verifier under a bare Python: -I -S, so no site-packages (no facesift,
    no numpy) can be imported."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(pack / "verify_pack.py"), str(pack)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_pack_holds_the_case_and_verifies_with_only_the_standard_library(casework, tmp_path):
    engine, record, lead = casework
    auditor = engine.operator(name="aud")
    pack = engine.export_case(auditor, "C-7", tmp_path / "pack")

    content = json.loads((pack.folder / "case.json").read_text())
    (search,) = content["searches"]
    assert search["search_id"] == record.search_id and search["purpose"] == "burglary suspect"
    probe = search["probe_faces"][0]
    assert (pack.folder / probe["crop"]).read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    first = next(x for x in search["leads"] if x["face_id"] == lead.face_id)
    assert first["status"] == "confirmed" and first["confirmed_by"] == ["rev1", "rev2"]
    assert [r["note"] for r in first["reviews"]] == ["same ear shape", "agree"]
    assert first["provenance"]["source"] == "custody"
    assert first["provenance"]["image_sha256"] == lead.image_sha256
    assert first["false_match_rate"] == lead.false_match_rate
    assert (pack.folder / first["crop"]).is_file()
    assert len(content["verifications"]) == 1

    audit = [json.loads(line) for line in (pack.folder / "audit.jsonl").read_text().splitlines()]
    in_full = [r for r in audit if "body" in r]
    assert {r["body"]["action"] for r in in_full} == {"search", "review", "verify"}
    assert all(r["body"]["case_ref"] == "C-7" for r in in_full)
    # The other case's record is in the stretch, but only as digests.
    assert any("body_sha256" in r for r in audit)
    for path in pack.folder.rglob("*"):
        if path.is_file():
            assert b"secret other purpose" not in path.read_bytes(), path
            assert b"OTHER-1" not in path.read_bytes(), path

    result = verify_standalone(pack.folder)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout and pack.pack_seal in result.stdout


def test_a_pack_changed_by_one_byte_anywhere_fails(casework, tmp_path):
    engine, _, _ = casework
    pack = engine.export_case(engine.operator(name="aud"), "C-7", tmp_path / "pack").folder
    files = sorted(p for p in pack.rglob("*") if p.is_file())
    assert len(files) >= 8
    for path in files:
        original = path.read_bytes()
        for offset in (0, len(original) // 2, len(original) - 1):
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            problems, _ = chain.verify_pack(pack)
            assert problems, f"a flipped bit at {offset} of {path.name} went unnoticed"
        path.write_bytes(original)
    assert chain.verify_pack(pack)[0] == []
    # The two files the verifier parses, changed at every 5th byte: always a finding, never a
    # crash (a flipped letter can turn a field name or a number into something else).
    for name in ("audit.jsonl", "manifest.json"):
        path = pack / name
        original = path.read_bytes()
        for offset in range(0, len(original), 5):
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            assert chain.verify_pack(pack)[0], f"{name} changed at {offset} went unnoticed"
        path.write_bytes(original)
    # A file removed, or one slipped in, is noticed too.
    (pack / "planted.jpg").write_bytes(b"x")
    assert any("planted.jpg" in p for p in chain.verify_pack(pack)[0])
    (pack / "planted.jpg").unlink()
    lead_crop = next((pack / "leads").iterdir())
    lead_crop.unlink()
    assert any("missing" in p for p in chain.verify_pack(pack)[0])
    assert verify_standalone(pack).returncode == 1


def test_hiding_a_case_record_behind_its_digest_is_caught(casework, tmp_path):
    """An attacker who swaps a damaging review record for its digest form (which still links)
    and re-seals the manifest is caught by the case's list of records; one who rewrites that
    list as well has forged a new pack, whose seal the gallery never recorded."""
    engine, _, _ = casework
    pack = engine.export_case(engine.operator(name="aud"), "C-7", tmp_path / "pack")
    folder = pack.folder
    lines = [json.loads(x) for x in (folder / "audit.jsonl").read_text().splitlines()]
    review = next(r for r in lines if "body" in r and r["body"]["action"] == "review")
    full = dict(review["body"], prev_hash=review["prev_hash"])
    review.pop("body")
    review["body_sha256"] = chain.body_sha256(full)
    (folder / "audit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["audit.jsonl"] = chain.file_sha256(folder / "audit.jsonl")
    manifest["pack_seal"] = chain.pack_seal(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    problems, _ = chain.verify_pack(folder)
    assert any("not shown in full" in p for p in problems), problems

    manifest["chain"]["case_seqs"].remove(review["seq"])
    manifest["pack_seal"] = chain.pack_seal(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert chain.verify_pack(folder)[0] == []  # self-consistent: a forgery, offline
    exports = engine.audit_records(engine.operator(name="aud"), action="case-export")
    assert [r.details["pack_seal"] for r in exports] == [pack.pack_seal]
    assert manifest["pack_seal"] != pack.pack_seal  # the gallery's record exposes it


def test_an_erased_lead_appears_as_erased_without_its_face(casework, tmp_path, photos):
    engine, record, lead = casework
    admin = engine.operator(name="admin")
    before = engine.export_case(engine.operator(name="aud"), "C-7", tmp_path / "before")
    assert lead.image_path.encode() in (before.folder / "case.json").read_bytes()  # not blind
    report = engine.subject_access(admin, photos["hopper"])
    erased = [f.face_id for f in report.faces]
    assert lead.face_id in erased
    engine.subject_erase(admin, report, erased)
    pack = engine.export_case(engine.operator(name="aud"), "C-7", tmp_path / "pack")
    content = json.loads((pack.folder / "case.json").read_text())
    gone = next(x for x in content["searches"][0]["leads"] if x["face_id"] == lead.face_id)
    assert gone["erased"] is True and "provenance" not in gone and "crop" not in gone
    assert [r["note"] for r in gone["reviews"]] == ["same ear shape", "agree"]
    assert pack.erased_leads >= 1
    assert not (
        pack.folder / "leads" / f"search-{record.search_id}-face-{lead.face_id}.jpg"
    ).exists()
    for path in pack.folder.rglob("*"):
        if path.is_file():
            # (The probe was the same file, so its digest stays on the case's search record.)
            assert lead.image_path.encode() not in path.read_bytes(), path
    assert chain.verify_pack(pack.folder)[0] == []


def test_who_may_export_which_case(casework, tmp_path):
    engine, _, _ = casework
    with pytest.raises(PermissionDenied):
        engine.export_case(engine.operator(name="admin"), "C-7", tmp_path / "a")
    with pytest.raises(PermissionDenied):
        engine.export_case(engine.operator(name="rev1"), "C-7", tmp_path / "b")
    with pytest.raises(CaseNotFound, match="ran no search in case"):
        engine.export_case(engine.operator(name="other"), "C-7", tmp_path / "c")
    with pytest.raises(CaseNotFound, match="no search"):
        engine.export_case(engine.operator(name="aud"), "NO-SUCH-CASE", tmp_path / "d")
    assert not any((tmp_path / n).exists() for n in "abcd")
    # The investigator who searched in the case may export it; the export is on the record.
    investigator = engine.operator(name="investigator")
    pack = engine.export_case(investigator, "C-7", tmp_path / "mine")
    last = engine._audit.records()[-1]
    assert (last.actor, last.action, last.case_ref) == ("investigator", "case-export", "C-7")
    assert last.details["pack_seal"] == pack.pack_seal
    assert engine._audit.verify().intact


def test_a_pack_is_never_written_over_other_files(casework, tmp_path):
    engine, _, _ = casework
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="not an empty folder"):
        engine.export_case(engine.operator(name="aud"), "C-7", taken)
    assert (taken / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_closing_a_case_erases_its_probe_crops_and_nothing_else(casework, tmp_path):
    """Probe crops are kept for the life of the case: closing it erases them (and no byte of
    them is left in any file of the data directory), while leads, reviews and the record stay."""
    engine, record, lead = casework
    crop = engine._catalog.probe_faces(record.search_id)[0].crop_jpeg
    data_dir = engine.data_dir

    def files_holding(needle: bytes) -> list[str]:
        return [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]

    needle = crop[len(crop) // 2 : len(crop) // 2 + 64]
    assert files_holding(needle)  # the scan is not blind
    with pytest.raises(PermissionDenied):
        engine.close_case(engine.operator(name="aud"), "C-7")
    with pytest.raises(CaseNotFound, match="ran no search"):
        engine.close_case(engine.operator(name="other"), "C-7")
    erased = engine.close_case(engine.operator(name="investigator"), "C-7")
    assert erased == 1 and engine._catalog.probe_faces(record.search_id) == []
    assert files_holding(needle) == []
    assert engine.lead_reviews(engine.operator(name="rev1"), record.search_id)
    last = engine._audit.records()[-1]
    assert (last.action, last.case_ref, last.details["probe_crops_erased"]) == (
        "case-close",
        "C-7",
        1,
    )
    pack = engine.export_case(engine.operator(name="aud"), "C-7", tmp_path / "after")
    content = json.loads((pack.folder / "case.json").read_text())
    assert content["searches"][0]["probe_faces"] == [] and not any(
        (pack.folder / "probes").iterdir()
    )
    assert chain.verify_pack(pack.folder)[0] == []
