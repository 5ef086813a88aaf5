"""A server and the CLI on one gallery (issue #12, integrity across processes): the server sees
what a CLI ingest added and never shows what a CLI erasure removed; its own later writes and
saves neither put erased faces back into the index file nor drop the CLI's faces."""

from __future__ import annotations

import numpy as np

from facesift import FaceSift
from tests.unit.cli.test_cli import run
from tests.unit.serve.conftest import make_served


def leads_for(served, name: str) -> list[int]:
    faces = served.search(name)["faces"]
    return [lead["face_id"] for face in faces for lead in face["leads"]]


def test_cli_writes_beside_a_live_server_keep_catalog_and_index_in_agreement(tmp_path, photos):
    served = make_served(tmp_path, photos)
    data = served.engine.data_dir
    try:
        served.ingest(["collins"])
        assert leads_for(served, "hopper") == []

        # Another process ingests Hopper while the server runs.
        run("ingest", str(photos["hopper"]), "--source", "press", data_dir=data)
        found = leads_for(served, "hopper")
        assert found, "the server did not see the CLI's ingest"
        stats = served.client.get("/api/v1/stats", headers=served.as_("admin")).json()
        assert stats["index_size"] == stats["faces"] == 2

        # Another process erases her at her request: the server never shows her again.
        run("subject", "erase", str(photos["hopper"]), "--yes", data_dir=data)
        assert leads_for(served, "hopper") == []

        # The server's own write and save afterwards must not bring her back, nor drop the
        # CLI's other faces: the index file is what the catalog says.
        run("ingest", str(photos["group"]), "--source", "press", data_dir=data)
        served.ingest(["collins_mirrored"])
        in_server = served.engine.check_index()
        assert in_server.in_agreement, in_server
    finally:
        served.client.__exit__(None, None, None)

    with FaceSift(served.engine.settings) as reopened:
        on_disk = reopened.check_index()
        assert on_disk.in_agreement, on_disk
        assert not set(found) & set(reopened._index.ids().tolist())
        np.testing.assert_array_equal(np.sort(reopened._index.ids()), reopened._catalog.face_ids())
        group_faces = reopened._catalog.counts().faces
        assert group_faces >= 4  # Collins, the group photo's two, Collins mirrored
