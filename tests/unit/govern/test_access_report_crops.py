"""The access report shows the person the face that was found, also in a phone photo stored
rotated with an EXIF orientation tag: the crop is taken from the upright photo, where the face
was detected."""

import base64
import re

from PIL import Image

from facesift import FaceSift, Settings
from facesift.govern.subjects import access_report_html
from tests.conftest import add_source, operators


def test_the_report_crop_of_an_exif_rotated_photo_shows_the_face(photos, tmp_path):
    rotated = tmp_path / "phone.jpg"
    upright = Image.open(photos["hopper"]).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the pixels are stored turned the other way
    upright.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif, quality=95)
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "phones")
        engine.ingest(admin, [rotated], "phones")
        report = engine.subject_access(admin, photos["hopper"])
        assert len(report.faces) == 1
        page = access_report_html(report)
        (data,) = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
        crop = base64.b64decode(data)
        (tmp_path / "crop.jpg").write_bytes(crop)
        found = engine.analyser.analyse_file(tmp_path / "crop.jpg")
    assert len(found.faces) == 1  # the crop holds the face, not a slice of uniform and flag
