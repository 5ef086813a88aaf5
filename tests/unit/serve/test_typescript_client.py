"""TypeScript types generated from /openapi.json by openapi-typescript type-check a small client:
a box is an object, a job's result lists per-file errors, an error is ProblemDetails under
application/problem+json, a thumbnail is a file. Needs node and the npm registry (npx fetches
openapi-typescript 7 and TypeScript 5); skips with the reason when either is missing."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.unit.serve.conftest import make_served

USES_THE_TYPES = """\
import type { components, paths } from "./api";

type Schemas = components["schemas"];
type Search = paths["/api/v1/search"]["post"];
type Thumbnail = paths["/api/v1/faces/{face_id}/thumbnail"]["get"];

const box: Schemas["Box"] = { left: 10, top: 20, right: 70, bottom: 90 };
// @ts-expect-error a box is an object, never a list
const listed: Schemas["Box"] = [10, 20, 70, 90];

function widest(found: Search["responses"][200]["content"]["application/json"]): number {
  return Math.max(...found.faces.map((f) => f.box.right - f.box.left), box.right - box.left);
}

function refused(job: Schemas["JobOut"]): string[] {
  return (job.result?.errors ?? []).map((e) => `${e.index ?? "-"} ${e.file}: ${e.reason}`);
}

const invalid: Search["responses"][422]["content"]["application/problem+json"] = {
  type: "urn:facesift:problem:invalid-request",
  title: "Unprocessable Entity",
  status: 422,
  detail: "top_k: Input should be greater than or equal to 1",
  instance: "/api/v1/search",
  errors: [{ field: "top_k", message: "Input should be greater than or equal to 1" }],
};
const jpeg: Thumbnail["responses"][200]["content"]["image/jpeg"] = "";
const denied: Thumbnail["responses"][403]["content"]["application/problem+json"] = invalid;

export { listed, widest, refused, jpeg, denied };
"""


def npx(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["npx", "--yes", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_typescript_types_from_the_schema_type_check(tmp_path, photos):
    if shutil.which("node") is None or shutil.which("npx") is None:
        pytest.skip("node and npx are not installed")
    served = make_served(tmp_path, photos)
    try:
        (tmp_path / "spec.json").write_text(json.dumps(served.app.openapi()))
    finally:
        served.client.__exit__(None, None, None)
    generated = npx(["openapi-typescript@7", "spec.json", "-o", "api.d.ts"], tmp_path)
    if generated.returncode != 0 and not (tmp_path / "api.d.ts").exists():
        output = generated.stdout + generated.stderr
        if any(word in output for word in ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT")):
            pytest.skip(f"the npm registry is unreachable: {output.strip()[-300:]}")
        pytest.fail(output)
    (tmp_path / "client.ts").write_text(USES_THE_TYPES)
    checked = npx(
        ["-p", "typescript@5", "tsc", "--noEmit", "--strict", "--target", "es2020"] + ["client.ts"],
        tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
