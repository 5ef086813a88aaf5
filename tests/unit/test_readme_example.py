"""The README's Python example, saved as a script and run as a newcomer would (issue #13), with
ingest forced onto worker processes (as with the dlib models): it works as written, and the
same code without its `if __name__ == "__main__":` guard gets an error that says so, instead
of a dead worker that reads like running out of memory."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "README.md should hold one Python example"
    return blocks[0]


def run_script(folder: Path, code: str) -> subprocess.CompletedProcess:
    (folder / "example.py").write_text(code)
    env = dict(os.environ, FACESIFT_ANALYSIS_WORKERS="processes", FACESIFT_WORKERS="2")
    env.pop("FACESIFT_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "example.py"], cwd=folder, capture_output=True, text=True,
        timeout=600, env=env,
    )  # fmt: skip


def prepared(tmp_path: Path, photos) -> Path:
    (tmp_path / "photos").mkdir()
    for name in ("collins", "hopper", "group"):
        shutil.copy(photos[name], tmp_path / "photos" / photos[name].name)
    shutil.copy(photos["collins_mirrored"], tmp_path / "probe.jpg")
    return tmp_path


def test_the_readme_example_runs_as_a_script(tmp_path, photos):
    folder = prepared(tmp_path, photos)
    result = run_script(folder, readme_example())
    assert result.returncode == 0, result.stderr
    assert "3 photos, 4 faces" in result.stdout
    assert "collins.png" in result.stdout  # the mirrored probe finds the original


def test_the_same_code_without_its_guard_says_what_is_wrong(tmp_path, photos):
    folder = prepared(tmp_path, photos)
    code = readme_example()
    unguarded = code.replace('if __name__ == "__main__":', "if True:")
    unguarded = re.sub(r"\nif True:.*\n    main\(\)\n", "\nmain()\n", unguarded)
    assert "\nmain()\n" in unguarded
    result = run_script(folder, unguarded)
    assert result.returncode != 0
    assert 'put the code under `if __name__ == "__main__":`' in result.stderr
    assert "out of memory" not in result.stderr
