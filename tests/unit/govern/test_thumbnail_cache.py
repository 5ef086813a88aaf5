"""The thumbnail cache never serves one rendering for another (issue #12): a boxed 80 px
thumbnail and a plain 160 px one are both 160 px wide, and once shared one cache file."""

from facesift import FaceSift, Settings
from tests.conftest import add_source, operators


def test_each_rendering_has_its_own_cache_entry(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["hopper"]], "s")
        (face_id,) = engine._catalog.face_ids().tolist()
        boxed_80 = engine.face_thumbnail(admin, face_id, 80, boxed=True)
        plain_160 = engine.face_thumbnail(admin, face_id, 160, boxed=False)
        assert boxed_80 != plain_160
        # Served again from the cache, each is what it was.
        assert engine.face_thumbnail(admin, face_id, 80, boxed=True) == boxed_80
        assert engine.face_thumbnail(admin, face_id, 160, boxed=False) == plain_160
    with FaceSift(Settings(data_dir=tmp_path / "fresh", workers=1)) as fresh:
        admin, _ = operators(fresh)
        add_source(fresh, admin, "s")
        fresh.ingest(admin, [photos["hopper"]], "s")
        (face_id,) = fresh._catalog.face_ids().tolist()
        # Rendered first, with nothing cached: the same pictures.
        assert fresh.face_thumbnail(admin, face_id, 160, boxed=False) == plain_160
        assert fresh.face_thumbnail(admin, face_id, 80, boxed=True) == boxed_80
