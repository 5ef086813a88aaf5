"""One behaviour for every catalog backend: the Catalog protocol, governance queries, identities,
operators and the audit chain, run against SQLite and PostgreSQL through the same migrations."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text, update

from facesift.catalog import NewImage, SqlCatalog
from facesift.catalog.base import OwedAudit
from facesift.catalog.statements import IN_CHUNK
from facesift.catalog.tables import gallery_state, metadata
from facesift.errors import CatalogError, FaceSiftError, SourceError, SpaceMismatchError
from facesift.govern.audit import AuditEvent, AuditTrail
from facesift.govern.operators import AuthenticationError, OperatorRegistry
from facesift.govern.roles import Action, Actor, Role
from facesift.read.manifests import Provenance
from facesift.types import (
    AnalysedFace,
    AnalysedImage,
    BoundingBox,
    Detection,
    EmbeddingSpace,
    Landmarks,
    Quality,
)
from tests.contract.catalog_backends import CATALOG_BACKENDS, empty_catalog_url

SPACE = EmbeddingSpace("contract", "v1", 8, "euclidean")
TERMS = {"purpose": "contract tests", "controller": "dpo@example.org"}
ALICE = Actor("alice", Role.INVESTIGATOR)


@pytest.fixture(params=CATALOG_BACKENDS)
def catalog_url(request, tmp_path) -> str:
    return empty_catalog_url(request, request.param, tmp_path)


@pytest.fixture
def catalog(catalog_url):
    catalog = SqlCatalog(catalog_url)
    yield catalog
    catalog.close()


def photo(sha: str, faces: int, seed: int = 0) -> AnalysedImage:
    """An analysed photo whose faces have distinct random embeddings (full float32 precision)."""
    rng = np.random.default_rng(seed)
    return AnalysedImage(
        path=f"/photos/{sha[:8]}.jpg",
        sha256=sha.ljust(64, "0"),
        size_bytes=1234,
        width=640,
        height=480,
        faces=tuple(
            AnalysedFace(
                detection=Detection(
                    BoundingBox(10 * i, 20, 10 * i + 60, 80),
                    Landmarks(((1.5, 2.25),) * 5, "dlib-5"),
                    0.75 + i,
                ),
                quality=Quality(face_size=60, sharpness=12.5),
                embedding=rng.standard_normal(SPACE.dimension).astype(np.float32),
            )
            for i in range(faces)
        ),
    )


def record(catalog, source_id: int, *photos: AnalysedImage, **kwargs) -> list[int]:
    face_ids, _ = catalog.add_images([NewImage(source_id, p, **kwargs) for p in photos], SPACE)
    return face_ids


def image_ids(catalog) -> list[int]:
    return sorted({f.image_id for f in catalog.stored_faces(catalog.face_ids()).values()})


# --- schema ---------------------------------------------------------------------------------


def test_migrations_create_exactly_the_declared_schema(catalog):
    with catalog.db.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_migrating_again_and_reopening_keep_the_data(catalog_url):
    first = SqlCatalog(catalog_url)
    source = first.add_source("kept", "consent", "GB", 30, **TERMS)
    record(first, source.id, photo("a", 1))
    first.close()
    again = SqlCatalog(catalog_url)
    assert [s.name for s in again.list_sources()] == ["kept"]
    assert again.counts().faces == 1 and again.version() == 1
    again.close()


# Each process imports first, says it is ready, and opens the catalog when told: all at once.
OPEN_WHEN_TOLD = """
import sys
from facesift.catalog import SqlCatalog
print("ready", flush=True)
sys.stdin.readline()
SqlCatalog(sys.argv[1]).close()
"""


def test_processes_opening_a_new_catalog_together_all_succeed(catalog_url):
    """Processes starting at once on an empty database: one migrates, the others wait."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, catalog_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0] * 3, [err for _, err in outcomes]
    catalog = SqlCatalog(catalog_url)
    assert catalog.version() == 0 and catalog.list_sources() == []
    catalog.close()


def test_opening_a_catalog_does_not_wait_for_a_writer(catalog_url):
    """A search starting while an ingest batch is being written opens the catalog at once."""
    writer = SqlCatalog(catalog_url)
    with writer.db.begin() as connection:
        # Holds the write lock (SQLite) or the row lock (PostgreSQL) until the block ends.
        connection.execute(update(gallery_state).values(version=gallery_state.c.version + 1))
        reader = SqlCatalog(catalog_url)
        assert reader.version() == 0
        reader.close()
    assert writer.version() == 1
    writer.close()


def test_a_missing_server_is_a_catalog_error_without_the_password(tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed (extra 'postgres')")
    url = f"postgresql+psycopg://someone:s3cret@/db?host={tmp_path}"
    with pytest.raises(CatalogError, match="cannot open catalog") as caught:
        SqlCatalog(url)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


# --- sources --------------------------------------------------------------------------------


def test_sources_round_trip_in_name_order_with_utc_times(catalog):
    before = datetime.now(UTC)
    catalog.add_source("zeta", "public-task", "fr", 7, "second", **TERMS)
    added = catalog.add_source("alpha", "consent", "GB", 30, "first", **TERMS)
    assert [s.name for s in catalog.list_sources()] == ["alpha", "zeta"]
    fetched = catalog.get_source("zeta")
    assert (fetched.jurisdiction, fetched.retention_days) == ("FR", 7)
    assert fetched.description == "second"
    assert catalog.get_source("alpha") == added
    assert fetched.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= fetched.created_at <= datetime.now(UTC)


def test_duplicate_and_unknown_sources(catalog):
    catalog.add_source("only", "consent", "GB", 30, **TERMS)
    with pytest.raises(SourceError, match="'only' already exists"):
        catalog.add_source("only", "consent", "GB", 30, **TERMS)
    with pytest.raises(SourceError, match="unknown source 'other'; known: only"):
        catalog.get_source("other")
    # The failed insert left the catalog usable and unchanged.
    assert [s.name for s in catalog.list_sources()] == ["only"]


# --- images and faces -----------------------------------------------------------------------


def test_images_and_faces_round_trip_exactly(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    group, portrait, empty = photo("a", 3, seed=1), photo("b", 1, seed=2), photo("c", 0)
    face_ids, vectors = catalog.add_images(
        [NewImage(source.id, p) for p in (group, portrait, empty)], SPACE
    )
    assert len(face_ids) == 4 and face_ids == sorted(face_ids)
    expected = np.vstack([f.embedding for f in group.faces + portrait.faces])
    assert np.array_equal(vectors, expected)
    # Embeddings come back bit for bit, in the order asked for.
    order = np.asarray(face_ids[::-1])
    assert np.array_equal(catalog.embeddings(order), expected[::-1])
    assert np.array_equal(catalog.face_ids(), np.asarray(face_ids))
    stored = catalog.stored_faces(face_ids)
    assert stored[face_ids[1]].box == BoundingBox(10, 20, 70, 80)
    assert {stored[i].image_sha256 for i in face_ids[:3]} == {group.sha256}
    assert stored[face_ids[3]].source == "s" and stored[face_ids[3]].lawful_basis == "consent"
    assert stored[face_ids[3]].ingested_at.utcoffset() == timedelta(0)
    assert catalog.counts() == type(catalog.counts())(1, 3, 4, 1)
    assert catalog.source_counts() == {"s": (3, 4)}
    assert catalog.embedding_space() == SPACE.key and catalog.version() == 1


def test_iter_embeddings_pages_through_every_face(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    face_ids = record(catalog, source.id, *(photo(f"{n:02x}", 2, seed=n) for n in range(9)))
    pages = list(catalog.iter_embeddings(batch_size=4))
    assert [len(ids) for ids, _ in pages] == [4, 4, 4, 4, 2]
    ids = np.concatenate([ids for ids, _ in pages])
    assert np.array_equal(ids, face_ids)
    assert np.array_equal(np.vstack([v for _, v in pages]), catalog.embeddings(ids))


def test_id_lists_longer_than_any_backend_binds_at_once(catalog):
    """PostgreSQL takes at most 65,535 parameters per statement, old SQLite 999."""
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    held = [photo(f"{n:04x}", 1, seed=n) for n in range(3)]
    face_ids = record(catalog, source.id, *held)
    asked = [f"{n:064x}" for n in range(70_000)] + [p.sha256 for p in held]
    assert catalog.known_hashes(asked) == {p.sha256 for p in held}
    assert catalog.sources_holding(asked) == {p.sha256: "s" for p in held}
    many_ids = list(range(10**9, 10**9 + 3 * IN_CHUNK)) + face_ids
    assert set(catalog.stored_faces(many_ids)) == set(face_ids)
    assert catalog.tombstoned(asked) == set()


def test_a_second_embedding_space_is_refused_and_its_batch_leaves_nothing(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    record(catalog, source.id, photo("a", 1))
    other = EmbeddingSpace("other", "v1", 8, "euclidean")
    with pytest.raises(SpaceMismatchError):
        catalog.add_images([NewImage(source.id, photo("b", 2))], other)
    assert catalog.counts().images == 1 and catalog.version() == 1
    assert catalog.known_hashes([photo("b", 0).sha256]) == set()


def test_a_failing_batch_is_rolled_back_whole(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    record(catalog, source.id, photo("a", 1))
    # The second image repeats a content hash: the whole batch, first image included, goes.
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        record(catalog, source.id, photo("b", 2), photo("a", 1))
    assert catalog.counts() == type(catalog.counts())(1, 1, 1, 0)
    assert catalog.version() == 1


def test_ids_are_never_reused_after_erasure(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    first = record(catalog, source.id, photo("a", 2))
    catalog.delete_images(image_ids(catalog))
    again = record(catalog, source.id, photo("b", 2))
    assert min(again) > max(first)


# --- provenance, retention and time zones -----------------------------------------------------


def test_times_keep_their_instant_and_come_back_in_utc(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    plus_two = timezone(timedelta(hours=2))
    expires = datetime(2030, 6, 1, 12, 0, tzinfo=plus_two)
    captured = datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=-5)))
    declared = Provenance(subject_ref="S-1", consent_ref="C-1", captured_at=captured)
    record(catalog, source.id, photo("a", 1), expires_at=expires, provenance=declared)
    (held,) = catalog.provenance(image_ids(catalog)).values()
    assert held.expires_at == expires and held.expires_at.tzinfo == UTC
    assert held.expires_at.hour == 10
    assert held.captured_at == captured and held.captured_at.tzinfo == UTC
    # Expiry compares instants: one second before 10:00 UTC it has not expired, at it, it has.
    assert catalog.expired_image_ids(datetime(2030, 6, 1, 9, 59, 59, tzinfo=UTC)) == []
    assert catalog.expired_image_ids(datetime(2030, 6, 1, 12, 0, tzinfo=plus_two)) == [
        held.image_id
    ]


def test_provenance_and_jurisdiction_fall_back_to_the_source(catalog):
    gb = catalog.add_source("gb", "legitimate-interest", "GB", 30, **TERMS)
    record(catalog, gb.id, photo("a", 1))
    record(catalog, gb.id, photo("b", 1), provenance=Provenance(jurisdiction="FR"))
    fr = catalog.add_source("fr", "consent", "FR", 30, **TERMS)
    record(catalog, fr.id, photo("c", 1))
    ids = image_ids(catalog)
    by_sha = {p.sha256[0]: p for p in catalog.provenance(ids).values()}
    assert {k: p.jurisdiction for k, p in by_sha.items()} == {"a": "GB", "b": "FR", "c": "FR"}
    assert by_sha["a"].purpose == TERMS["purpose"] and by_sha["c"].lawful_basis == "consent"
    assert catalog.image_ids_in_jurisdiction("fr") == [by_sha["b"].image_id, by_sha["c"].image_id]
    assert catalog.image_ids_of_source(gb.id) == [by_sha["a"].image_id, by_sha["b"].image_id]


# --- erasure, tombstones, opt-outs ------------------------------------------------------------


def test_deleting_images_and_faces(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    group = record(catalog, source.id, photo("a", 3))
    single = record(catalog, source.id, photo("b", 1))
    version = catalog.version()

    # One face of the group goes; the image stays with two.
    gone = catalog.delete_faces([group[0]])
    assert (gone.face_ids, gone.image_ids) == ((group[0],), ())
    assert catalog.source_counts() == {"s": (2, 3)}
    # The last face of an image takes the image with it, and its hash is reported.
    gone = catalog.delete_faces([single[0]])
    assert gone.image_sha256s == (photo("b", 0).sha256,) and len(gone.image_ids) == 1
    gone = catalog.delete_images(image_ids(catalog))
    assert gone.face_ids == tuple(group[1:]) and gone.image_sha256s == (photo("a", 0).sha256,)
    assert catalog.counts() == type(catalog.counts())(1, 0, 0, 0)
    assert catalog.version() == version + 3


def test_tombstones_are_added_once_and_found_in_bulk(catalog):
    hashes = [f"{n:064x}" for n in range(2 * IN_CHUNK + 5)]
    catalog.add_tombstones(hashes[:10], "subject erasure")
    catalog.add_tombstones(hashes, "subject erasure")  # the first ten again: no error
    assert catalog.tombstone_count() == len(hashes)
    assert catalog.tombstoned(hashes[5:] + ["f" * 64]) == set(hashes[5:])
    # Values are written into the IN list (statements.among): quoting must hold.
    hostile = ["x' OR '1'='1", "a\\'); DROP TABLE tombstones; --"]
    assert catalog.tombstoned(hostile) == set() and catalog.known_hashes(hostile) == set()
    catalog.add_tombstones(hostile, "quoting")
    assert catalog.tombstoned(hostile + hashes[:1]) == set(hostile + hashes[:1])


def test_optouts_round_trip(catalog):
    templates = np.random.default_rng(3).standard_normal((2, SPACE.dimension)).astype(np.float32)
    catalog.add_optout(templates[0], SPACE.key, "OPT-1")
    catalog.add_optout(templates[1], SPACE.key, "OPT-2")
    references, stored = catalog.optout_templates()
    assert references == ["OPT-1", "OPT-2"] and np.array_equal(stored, templates)
    assert catalog.remove_optouts(["OPT-1", "OPT-9"]) == 1
    assert catalog.optout_count() == 1


# --- identities --------------------------------------------------------------------------------


def test_identities_grouping_human_edits_and_erasure(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    faces = record(catalog, source.id, *(photo(f"{n:x}", 1, seed=n) for n in range(6)))
    created, assigned = catalog.save_groups([faces[:3], faces[3:5]], existing={})
    assert (created, assigned) == (2, 5)
    summaries = catalog.identity_summaries()
    assert [(s.faces, s.locked, s.name) for s in summaries] == [(3, False, None), (2, False, None)]
    big, small = summaries[0].id, summaries[1].id

    catalog.name_identity(small, "Grace Hopper")
    moved_to = catalog.move_faces([faces[5]], small)
    assert moved_to == small
    (summary,) = [s for s in catalog.identity_summaries() if s.id == small]
    assert (summary.name, summary.locked, summary.faces) == ("Grace Hopper", True, 3)
    ids, identity_ids, locked = catalog.assignments()
    assert dict(zip(ids.tolist(), locked.tolist(), strict=True))[faces[5]] is True
    assert set(identity_ids.tolist()) == {big, small}

    # Clustering again never moves human assignments, and unassigning skips them too.
    catalog.save_groups([[faces[0], faces[5]]], existing={faces[0]: big})
    assert catalog.identity_faces(small) == faces[3:6]
    assert catalog.unassign(faces, automatic_only=True) == 3
    assert catalog.identities_of([faces[3]])[faces[3]].name == "Grace Hopper"

    # Erasing an identity's faces removes the identity with them.
    catalog.delete_faces(faces[3:6])
    assert catalog.identity_summaries() == []
    with pytest.raises(LookupError, match=f"no identity with id {small}"):
        catalog.identity_faces(small)


def test_merging_identities(catalog):
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    faces = record(catalog, source.id, *(photo(f"{n:x}", 1, seed=n) for n in range(4)))
    catalog.save_groups([faces[:2], faces[2:]], existing={})
    keep, other = (s.id for s in catalog.identity_summaries())
    assert catalog.merge_identities(keep, other) == 2
    (merged,) = catalog.identity_summaries()
    assert (merged.id, merged.faces, merged.locked) == (keep, 4, True)


# --- operators and the audit chain --------------------------------------------------------------


def test_operators(catalog):
    registry = OperatorRegistry(catalog)
    actor, key = registry.add("ada", "admin")
    assert registry.by_key(key) == actor == registry.by_name("ada")
    with pytest.raises(FaceSiftError, match="operator 'ada' already exists"):
        registry.add("ada", "auditor")
    registry.add("bob", Role.REVIEWER)
    assert registry.count() == 2
    listed = registry.list()
    assert [a.name for a, _ in listed] == ["ada", "bob"]
    assert all(created.tzinfo == UTC for _, created in listed)
    with pytest.raises(AuthenticationError):
        registry.by_key("fs_not-a-key")


def test_the_audit_chain_verifies_filters_and_detects_edits(catalog, tmp_path):
    trail = AuditTrail(catalog, head_file=tmp_path / "audit.head")
    started = datetime.now(UTC)
    for n in range(1, 5):
        trail.append(
            AuditEvent(
                ALICE,
                Action.SEARCH,
                purpose="p",
                case_ref=f"C-{n}",
                probe_sha256="ab" * 32,
                details={"leads": [[n, 0.25 * n, "face"]], "note": "ünïcode ✓"},
            ),
            gallery_version=n,
        )
    check = trail.verify()
    assert check.intact and check.records == 4
    assert [r.case_ref for r in trail.records(since=started, limit=2)] == ["C-1", "C-2"]
    assert trail.records(action="erase") == [] and len(trail.records(actor="alice")) == 4
    with catalog.db.begin() as connection:
        connection.execute(text("UPDATE audit_log SET case_ref = 'C-X' WHERE seq = 3"))
    assert trail.verify().first_broken == 3


def test_concurrent_audit_appends_form_one_chain(catalog):
    trail = AuditTrail(catalog)
    errors: list[Exception] = []

    def append_some(writer: int):
        try:
            for n in range(8):
                trail.append(AuditEvent(ALICE, Action.SEARCH, case_ref=f"{writer}-{n}"), 0)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    writers = [threading.Thread(target=append_some, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    check = trail.verify()
    assert check.intact and check.records == 32


# --- one writer per catalog -------------------------------------------------------------------


def test_one_writer_per_catalog_across_hosts(catalog_url):
    if not catalog_url.startswith("postgresql"):
        pytest.skip("a SQLite catalog is local to its data directory, whose lock is the writer's")
    here, elsewhere = SqlCatalog(catalog_url), SqlCatalog(catalog_url)
    try:
        with here.exclusive_writer():
            with pytest.raises(CatalogError, match="another facesift process"):
                with elsewhere.exclusive_writer():
                    pass
        with elsewhere.exclusive_writer():  # released when the first writer finished
            pass
    finally:
        here.close()
        elsewhere.close()


def test_an_owed_audit_record_commits_with_its_batch_and_only_with_it(catalog):
    """The audit record a batch owes is stored in the batch's transaction: present when the
    batch is, absent when the batch is refused, and gone once settled."""
    source = catalog.add_source("s", "consent", "GB", 30, **TERMS)
    owed = OwedAudit("a" * 32, "ingest", "admin", "admin", {"batch": 1, "images": 1})
    catalog.add_images([NewImage(source.id, photo("a", 1))], SPACE, owed)
    assert catalog.owed_audit_records() == [owed]
    other = EmbeddingSpace("other", "v1", 8, "euclidean")
    refused = OwedAudit("b" * 32, "ingest", "admin", "admin", {"batch": 2, "images": 1})
    with pytest.raises(SpaceMismatchError):
        catalog.add_images([NewImage(source.id, photo("b", 1))], other, refused)
    assert catalog.owed_audit_records() == [owed]
    catalog.settle_owed_audit(owed.token)
    assert catalog.owed_audit_records() == []
