"""Manifests: per-image provenance; bad rows are reported by line and the rest are kept."""

from datetime import UTC, datetime

import pytest

from facesift.errors import InputError
from facesift.read.manifests import read_manifest


def test_csv_rows_with_errors_by_line(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject_ref,consent_ref,consent_until,jurisdiction,captured_at\n"
        "a.jpg,S1,C1,2027-01-31,fr,2020-05-01\n"
        ",S2,C2,,,\n"
        "c.jpg,S3,,,,\n"
        "d.jpg,S4,C4,,France,\n"
        "e.jpg,S5,C5,next tuesday,,\n"
        "/abs/f.jpg,S6,C6,,,\n"
    )
    entries, errors = read_manifest(manifest, consent_required=True)
    assert [e.line for e in entries] == [2, 7]
    first = entries[0]
    assert first.path == tmp_path / "a.jpg" and entries[1].path.as_posix() == "/abs/f.jpg"
    assert first.provenance.jurisdiction == "FR" and first.provenance.consent_ref == "C1"
    assert first.provenance.consent_until == datetime(2027, 1, 31, tzinfo=UTC)
    assert errors == [
        (f"{manifest}:3", "missing path"),
        (f"{manifest}:4", "missing consent_ref: this source's lawful basis is consent"),
        (f"{manifest}:5", "jurisdiction 'France' is not an assigned ISO 3166-1 alpha-2 code"),
        (f"{manifest}:6", "consent_until 'next tuesday' is not an ISO 8601 date or time"),
    ]


def test_json_lines(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"path": "a.jpg", "subject_ref": "S1", "source_url": "https://example.org/a"}\n'
        "not json\n"
        '["a list"]\n'
        '{"path": "b.jpg", "colour": "blue"}\n'
        "\n"
    )
    entries, errors = read_manifest(manifest, consent_required=False)
    assert [e.path.name for e in entries] == ["a.jpg"]
    assert entries[0].provenance.source_url == "https://example.org/a"
    assert [where.rsplit(":", 1)[1] for where, _ in errors] == ["2", "3", "4"]
    assert "unknown fields ['colour']" in errors[2][1]


def test_a_manifest_without_a_path_column_is_refused(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,subject\nx.jpg,1\n")
    with pytest.raises(InputError, match="needs a header row with a 'path' column"):
        read_manifest(manifest, consent_required=False)
