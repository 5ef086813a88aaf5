"""The audit trail detects edited, deleted, reordered and truncated records."""

import pytest
from sqlalchemy import text

from facesift.catalog.sql import SqlCatalog
from facesift.govern.audit import AuditEvent, AuditTrail
from facesift.govern.roles import Action, Actor, Role

ALICE = Actor("alice", Role.INVESTIGATOR)


@pytest.fixture
def trail(tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    trail = AuditTrail(catalog, head_file=tmp_path / "audit.head")
    for n in range(1, 6):
        trail.append(
            AuditEvent(
                ALICE,
                Action.SEARCH,
                purpose="p",
                case_ref=f"C-{n}",
                probe_sha256="ab" * 32,
                details={"leads": [[1, n, 0.3]]},
            ),
            gallery_version=n,
        )
    yield trail
    catalog.close()


def sql(trail, statement: str) -> None:
    with trail.log.db.begin() as connection:
        connection.execute(text(statement))


def test_an_untouched_chain_verifies(trail):
    check = trail.verify()
    assert check.intact and check.records == 5 and len(check.head) == 64
    records = trail.records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[1].prev_hash == records[0].hash
    assert trail.records(action="search", actor="alice")[2].case_ref == "C-3"


def test_an_edited_record_is_named(trail):
    sql(trail, "UPDATE audit_log SET case_ref = 'C-99' WHERE seq = 3")
    check = trail.verify()
    assert check.first_broken == 3 and "altered" in check.problem


def test_an_edit_that_also_rehashes_breaks_the_next_link(trail):
    from facesift.govern.chain import record_hash

    row = dict(trail.records()[2].__dict__)
    row["purpose"] = "covered up"
    new_hash = record_hash(row)
    sql(trail, f"UPDATE audit_log SET purpose = 'covered up', hash = '{new_hash}' WHERE seq = 3")
    check = trail.verify()
    assert check.first_broken == 4 and "does not follow" in check.problem


def test_a_deleted_record_is_named(trail):
    sql(trail, "DELETE FROM audit_log WHERE seq = 2")
    check = trail.verify()
    assert check.first_broken == 2 and "missing" in check.problem


def test_reordered_records_are_detected(trail):
    sql(trail, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
    sql(trail, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    sql(trail, "UPDATE audit_log SET seq = 3 WHERE seq = 100")
    check = trail.verify()
    assert not check.intact and check.first_broken == 2


def test_records_removed_from_the_end_are_detected_by_the_head(trail):
    sql(trail, "DELETE FROM audit_log WHERE seq = 5")
    check = trail.verify()
    assert not check.intact and "removed from the end" in check.problem


def test_a_rewritten_end_is_detected_by_the_head(trail):
    # Someone with access to the database, not to audit.head, replaces the last records with a
    # longer, validly chained story.
    sql(trail, "DELETE FROM audit_log WHERE seq >= 4")
    forger = AuditTrail(trail.log)
    for n in (4, 5, 6):
        forger.append(AuditEvent(ALICE, Action.SEARCH, case_ref=f"R-{n}"), gallery_version=n)
    check = trail.verify()
    assert check.first_broken == 5 and "removed and rewritten" in check.problem


def test_a_chain_grown_by_another_host_still_verifies(trail, tmp_path):
    # Another host (its own data directory and audit.head) appends to the shared catalog.
    elsewhere = AuditTrail(trail.log, head_file=tmp_path / "elsewhere.head")
    elsewhere.append(AuditEvent(ALICE, Action.SEARCH, case_ref="C-6"), gallery_version=6)
    assert trail.verify().intact and elsewhere.verify().intact
    assert trail.verify().records == 6


def test_concurrent_appends_from_threads_keep_chain_and_head_in_step(tmp_path):
    """A server appends from many request threads at once: none fails, and the head file
    ends at the chain's last record (never moved back by a slower thread)."""
    import threading

    from facesift.catalog.sql import SqlCatalog

    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")  # WAL, as in use
    trail = AuditTrail(catalog, head_file=tmp_path / "audit.head")
    actor = Actor("ina", Role.INVESTIGATOR)
    failures = []

    def append_many():
        for n in range(30):
            try:
                trail.append(AuditEvent(actor, Action.SEARCH, details={"n": n}), 1)
            except Exception as error:  # noqa: BLE001 - any failure fails the test
                failures.append(error)

    threads = [threading.Thread(target=append_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    check = trail.verify()
    assert check.intact and check.records == 8 * 30
    assert trail.head_file.read_text().split()[0] == str(trail.records()[-1].seq)


def test_a_chain_resealed_with_its_head_is_caught_by_an_exported_checkpoint(trail, tmp_path):
    # The strongest attacker with the data directory: rewrites the end of the chain and also
    # the head file beside it. The chain alone cannot tell; a checkpoint the auditor kept
    # outside the data directory can.
    before = trail.verify()
    checkpoint = (before.records, before.head)
    sql(trail, "DELETE FROM audit_log WHERE seq >= 3")
    forger = AuditTrail(trail.log)
    for n in (3, 4, 5):
        last = forger.append(AuditEvent(ALICE, Action.SEARCH, case_ref=f"FORGED-{n}"), n)
    trail.head_file.write_text(f"{last.seq} {last.hash}\n")  # and re-seals the head file
    assert trail.verify().intact  # what the data directory alone can show
    check = trail.verify(checkpoint)
    assert not check.intact and check.first_broken == 5 and "re-sealed" in check.problem
    shortened = trail.verify((9, before.head))
    assert not shortened.intact and "your checkpoint is record 9" in shortened.problem


def test_deleting_every_record_and_the_head_is_detected(tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'gallery.sqlite'}")
    trail = AuditTrail(catalog, head_file=tmp_path / "audit.head", has_history=lambda: True)
    trail.append(AuditEvent(ALICE, Action.USER_ADD), gallery_version=0)
    sql(trail, "DELETE FROM audit_log")
    (tmp_path / "audit.head").unlink()
    check = trail.verify()
    assert not check.intact and "every record was deleted" in check.problem
    catalog.close()


@pytest.mark.parametrize("damage", ["", "garbage", "3 nothex", "x " + "0" * 64])
def test_a_damaged_head_file_is_a_clear_finding_not_a_crash(trail, damage):
    trail.head_file.write_text(damage)
    check = trail.verify()
    assert not check.intact and "audit.head is damaged" in check.problem


def test_a_malformed_checkpoint_is_refused_by_name(tmp_path):
    from facesift import FaceSift, Settings
    from facesift.errors import InputError
    from tests.conftest import operators

    with FaceSift(Settings(data_dir=tmp_path, workers=1)) as engine:
        admin, _ = operators(engine)
        with pytest.raises(InputError, match="checkpoint: .* is not SEQ:HASH"):
            engine.audit_verify(admin, "7:abc")
        good = engine.audit_verify(admin)
        assert engine.audit_verify(admin, f"{good.records}:{good.head}").intact


def test_records_sealed_before_chain_format_2_still_verify(trail):
    """Galleries from before format 2 sealed the whole record at once; their chains stay valid,
    and editing such a record is still caught."""
    from facesift.govern.chain import GENESIS, legacy_hash

    previous = GENESIS
    for record in trail.records():  # re-seal the whole chain the old way, in order
        fields = dict(record.__dict__, prev_hash=previous)
        previous = legacy_hash(fields)
        sql(
            trail,
            f"UPDATE audit_log SET prev_hash = '{fields['prev_hash']}', hash = '{previous}' "
            f"WHERE seq = {record.seq}",
        )
    if trail.head_file is not None:
        trail.head_file.write_text(f"{len(trail.records())} {previous}\n")
    assert trail.verify().intact
    sql(trail, "UPDATE audit_log SET purpose = 'edited' WHERE seq = 1")
    check = trail.verify()
    assert check.first_broken == 1 and "altered" in check.problem
