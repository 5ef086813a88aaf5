"""Every committed ingest batch is on the record, even when its process dies between the batch's
commit and its audit record (issue #12): the batch owes its record from its own transaction, and
the next ingest appends it, marked as recovered."""

import pytest

from facesift import FaceSift, Settings
from facesift.govern.audit import AuditRecorder
from tests.conftest import add_source, operators


class Killed(BaseException):
    """Stands for the process dying: raised where the batch's audit record would be written."""


def test_a_batch_whose_record_was_never_written_is_recorded_by_the_next_ingest(
    photos, tmp_path, monkeypatch
):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        original = AuditRecorder.record

        def dies_at_the_batch_record(self, event):
            if event.details.get("batch") == 1:
                raise Killed
            return original(self, event)

        monkeypatch.setattr(AuditRecorder, "record", dies_at_the_batch_record)
        with pytest.raises(Killed):
            engine.ingest(admin, [photos["hopper"], photos["collins"]], "s")
        monkeypatch.setattr(AuditRecorder, "record", original)

        # The batch is in the catalog, its record is not in the chain, and the debt is kept.
        # (A batch closes after 64 images or a second: one or both photos.)
        committed = engine._catalog.counts().images
        assert committed >= 1
        assert [r for r in engine._audit.records(action="ingest") if "batch" in r.details] == []
        (owed,) = engine._catalog.owed_audit_records()
        assert owed.details == {
            "source": "s", "batch": 1, "images": committed, "faces": committed
        }  # fmt: skip
        assert (owed.actor, owed.role) == ("admin", "admin")

        # The next ingest, whatever it holds, pays it first, as the one who committed it.
        engine.ingest(admin, [photos["group"]], "s")
        batches = [r for r in engine._audit.records(action="ingest") if "batch" in r.details]
        recovered = [r for r in batches if "recovered" in r.details]
        assert len(recovered) == 1 and recovered[0].actor == "admin"
        assert recovered[0].details["images"] == committed
        assert sum(r.details["images"] for r in batches) == engine._catalog.counts().images
        assert engine._catalog.owed_audit_records() == []
        assert engine._audit.verify().intact


def test_a_batch_that_was_recorded_owes_nothing(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["hopper"]], "s")
        assert engine._catalog.owed_audit_records() == []
        assert len(engine._audit.records(action="ingest")) == 2  # the batch and the summary
