"""The draft DPIA (`facesift report dpia`): drawn from what the deployment holds and did, every
safeguard cited with a test that exists, the controller's parts left blank, the measured figures
quoted (or their absence marked), operators' words escaped in HTML, and the report permitted to
administrators and auditors only, and audited."""

import ast
import json
from pathlib import Path

import pytest

import facesift
from facesift import FaceSift, Settings
from facesift.errors import PermissionDenied
from facesift.govern.dpia import (
    CONTROLLER_QUESTIONS,
    NOT_MEASURED,
    SAFEGUARDS,
    TO_COMPLETE,
    accuracy_assessment,
    dpia_html,
    dpia_markdown,
)
from facesift.search.calibration import measured_figures_filename
from tests.conftest import operators
from tests.unit.cli.test_cli import run

REPO = Path(__file__).resolve().parents[3]
HOSTILE = "<script>alert(1)</script>"
# (name, lawful basis, jurisdiction, retention days, purpose, controller)
SOURCES = [
    ("press", "legitimate-interest", "GB", 30, "press archive", "dpo@example.org"),
    ("custody", "public-task", "FR", 365, f"custody images {HOSTILE}", f"{HOSTILE}@example.org"),
    ("old-scans", "consent", "DE", 90, "scans to be erased", "dpo@example.org"),
]
SEARCHES = [("missing person", "MP-1"), ("missing person", "MP-1"), ("fraud", HOSTILE)]
VERIFICATIONS = [("fraud", "FR-9")]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("dpia")
    data = folder / "data"
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        admin, investigator = operators(engine)
        engine.add_operator(admin, "audrey", "auditor")
        engine.add_operator(admin, "rita", "reviewer")
        engine.disable_operator(admin, "rita")
        for name, basis, country, days, purpose, controller in SOURCES:
            engine.add_source(
                admin, name, basis, country, days, purpose=purpose, controller=controller
            )
        engine.ingest(admin, [photos["hopper"], photos["collins"]], "press")
        engine.ingest(admin, [photos["group"]], "custody")
        old_scans = folder / "old-scans.csv"
        old_scans.write_text(f"path,consent_ref\n{photos['collins_mirrored']},C-1\n")
        engine.ingest(admin, [], "old-scans", manifest=old_scans)
        for purpose, case in SEARCHES:
            engine.search(investigator, photos["collins"], purpose=purpose, case=case)
        for purpose, case in VERIFICATIONS:
            engine.verify(
                investigator, photos["collins"], photos["hopper"], purpose=purpose, case=case
            )
        engine.subject_erase(admin, engine.subject_access(admin, photos["hopper"]))
        engine.subject_optout(admin, photos["collins"])
        engine.erase(admin, source="old-scans")
        engine.purge(admin)
        auditor = engine.operator(name="audrey")
        content = engine.dpia(auditor)
        yield engine, content


def test_every_source_is_described_with_its_terms_and_holdings(deployment):
    engine, content = deployment
    markdown = dpia_markdown(content)
    held = engine._catalog.source_counts()
    described = {s["name"]: s for s in content["description"]["sources"]}
    assert set(described) == {name for name, *_ in SOURCES}
    for name, basis, country, days, purpose, controller in SOURCES:
        images, faces = held.get(name, (0, 0))
        row = f"| {name} | {purpose} | {basis} | {country} | {days} | {controller} "
        assert f"{row}| {images} | {faces} |" in markdown
    assert "special category" in markdown and engine.stats().embedding_space in markdown


def test_recipients_are_the_operators_by_role_and_the_disabled_are_told_apart(deployment):
    _, content = deployment
    description = content["description"]
    assert description["recipients_by_role"] == {
        "admin": ["admin"],
        "auditor": ["audrey"],
        "investigator": ["investigator"],
    }
    assert [(o["name"], o["role"]) for o in description["disabled_operators"]] == [
        ("rita", "reviewer")
    ]
    assert "disabled (no longer a recipient): rita (reviewer)" in dpia_markdown(content)


def test_searches_and_verifications_are_counted_by_purpose_and_case(deployment):
    _, content = deployment
    use = content["use_in_practice"]
    assert (use["searches"], use["verifications"]) == (len(SEARCHES), len(VERIFICATIONS))
    assert use["by_purpose"] == [
        {"purpose": "fraud", "searches": 1, "verifications": 1},
        {"purpose": "missing person", "searches": 2, "verifications": 0},
    ]
    assert use["by_case"] == [
        {"case_ref": "MP-1", "searches": 2, "verifications": 0},
        {"case_ref": HOSTILE, "searches": 1, "verifications": 0},
        {"case_ref": "FR-9", "searches": 0, "verifications": 1},
    ]
    markdown = dpia_markdown(content)
    assert "| MP-1 | 2 | 0 |" in markdown and "| fraud | 1 | 1 |" in markdown
    period = use["period"]
    assert period["first_record"] < period["last_record"] and period["audit_records"] > 10


def test_subject_rights_erasures_and_purges_are_counted(deployment):
    engine, content = deployment
    use = content["use_in_practice"]
    rights = use["subject_requests"]
    assert rights["access_searches_by_administrators"] == 1
    assert (rights["opt_outs_recorded"], rights["opt_outs_withdrawn"]) == (1, 0)
    erased = engine._audit.records(action="subject-erase")[0].details
    assert erased["images_erased"] >= 1
    assert use["held_now"] == {
        "opt_outs": 1,
        "photos_barred_from_reingest": erased["images_erased"],
    }
    assert use["erased_at_subjects_request"] == {
        "runs": 1,
        "images": erased["images_erased"],
        "faces": erased["faces_erased"],
    }
    assert use["erased_by_scope"] == {"runs": 1, "images": 1, "faces": 1}
    assert use["purged_after_retention"] == {"runs": 1, "images": 0, "faces": 0}
    markdown = dpia_markdown(content)
    assert "Erased by jurisdiction or source: 1 runs, 1 images and 1 faces" in markdown


def test_every_safeguard_is_stated_with_the_tests_that_prove_it(deployment):
    _, content = deployment
    markdown, page = dpia_markdown(content), dpia_html(content)
    for safeguard in SAFEGUARDS:
        assert safeguard.risk in markdown and safeguard.measure in markdown
        for test in safeguard.tests:
            assert f"`{test}`" in markdown and f"<code>{test}</code>" in page
    assert "Enforced (FACESIFT_REQUIRE_PURPOSE_AND_CASE=true)" in markdown


def defined_tests(path: Path) -> set[str]:
    """``name`` and ``Class::name`` of every test function ``path`` defines."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return {name for name in found if name.split("::")[-1].startswith("test_")}


def test_every_cited_test_exists():
    # The DPIA must not cite a test that was renamed or deleted.
    missing = []
    for safeguard in SAFEGUARDS:
        assert safeguard.tests, safeguard.key
        for node_id in safeguard.tests:
            file, _, name = node_id.partition("::")
            path = REPO / file
            if not path.is_file() or name not in defined_tests(path):
                missing.append(node_id)
    assert missing == []


def test_the_check_finds_a_renamed_test(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text(
        "def test_a():\n    pass\n\nclass TestB:\n    def test_c(self):\n        pass\n"
    )
    assert defined_tests(module) == {"test_a", "TestB::test_c"}


def test_facesift_has_no_network_client_to_fetch_images():
    # EU AI Act Art. 5(1)(e): no untargeted scraping. facesift serves an API but has no client
    # with which it could crawl the web or social media for faces.
    clients = {"requests", "httpx", "aiohttp", "urllib3", "pycurl", "scrapy", "selenium"}
    clients |= {"playwright", "urllib.request", "http.client", "ftplib", "socket"}
    reached = []
    for path in sorted(Path(facesift.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            reached += [
                f"{path.name}: {n}" for n in names if n in clients or n.split(".")[0] in clients
            ]
    assert reached == []


def test_the_controllers_parts_are_marked_blanks_naming_their_articles(deployment):
    _, content = deployment
    markdown = dpia_markdown(content)
    for question in CONTROLLER_QUESTIONS:
        assert f"### {question.title} ({question.article})" in markdown
        assert question.question in markdown
    assert markdown.count(TO_COMPLETE) == len(CONTROLLER_QUESTIONS) + 1  # and the status note
    for article in ("Art. 35(7)(b)", "Art. 35(9)", "Art. 35(2)", "Art. 36", "Art. 27(1)(c)"):
        assert article in markdown
    assert "not a completed DPIA" in markdown and content["facesift_version"] in markdown


def rate(errors: int, trials: int) -> dict:
    return {"errors": errors, "trials": trials, "rate": errors / trials, "ci95": [0.0, 0.01]}


def figures_of(space: str, demographics: bool = True) -> dict:
    figures = {
        "space": space,
        "model": "test detector + test embedder",
        "dataset": "a labelled test set",
        "measured_at": "2026-01-31",
        "verification": {
            "mean_accuracy": 0.9712,
            "std_accuracy": 0.0034,
            "tar_at_far": 0.9431,
            "far_target": 0.001,
        },
        "identification": {
            "rank1_hit_rate": 0.9555,
            "fnir_at_fpir": 0.0777,
            "fpir_target": 0.01,
            "gallery_size": 321,
        },
    }
    if demographics:
        group = {"attribute": "tone", "people": 12, "images": 34}
        figures["demographics"] = {
            "threshold": 1.0125,
            "target_fmr": 0.001,
            "groups": [
                {**group, "group": "Group-A", "fmr": rate(42, 10_000), "fnmr": rate(3, 250)},
                {**group, "group": "Group-B", "fmr": rate(7, 10_000), "fnmr": rate(1, 250)},
            ],
            "worst_to_best": {
                "tone": {
                    "fmr": {"worst": "Group-A", "best": "Group-B", "ratio": 6.0},
                    "fnmr": {"worst": "Group-A", "best": "Group-B", "ratio": 3.0},
                }
            },
            "strictest_threshold": 0.9,
            "false_match_rate_for_strictest": 0.000171,
        }
    return figures


def test_measured_figures_and_differentials_are_quoted_with_a_recommendation(engine):
    admin, _ = operators(engine)
    folder = engine.settings.data_dir / "calibration"
    folder.mkdir(exist_ok=True)
    space = engine.stats().embedding_space
    (folder / measured_figures_filename(engine.space)).write_text(json.dumps(figures_of(space)))
    content = engine.dpia(admin)
    markdown = dpia_markdown(content)
    for quoted in ("test detector + test embedder", "a labelled test set", "97.12%", "95.55%"):
        assert quoted in markdown
    assert "worst-to-best FMR: 6.0x: worst Group-A, best Group-B" in markdown
    assert "| Group-A | 12 | 34 | 0.0042 (42/10,000" in markdown
    assert "above the policy's 0.001" in markdown
    assert content["accuracy"]["recommended_match_false_match_rate"] == 0.000171
    assert "FACESIFT_MATCH_FALSE_MATCH_RATE=0.00017" in markdown
    assert NOT_MEASURED not in markdown


def test_without_measured_figures_the_gap_is_marked(engine):
    admin, _ = operators(engine)
    content = engine.dpia(admin)
    # Whether or not the model ships figures, a deployment without them says so.
    markdown = dpia_markdown({**content, "accuracy": accuracy_assessment(None, 1e-3)})
    assert f"**Gap:** {NOT_MEASURED}" in markdown and "facesift eval measured" in markdown
    space = engine.stats().embedding_space
    partial = accuracy_assessment(figures_of(space, demographics=False), 1e-3)
    assert partial["demographics"] is None
    assert "Demographic differentials were not measured" in partial["findings"][0]


def test_the_html_escapes_every_word_taken_from_the_deployment(deployment):
    _, content = deployment
    page = dpia_html(content)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    hostile_source = {**content["description"]["sources"][0], "name": HOSTILE}
    hostile = {**content, "description": {**content["description"], "sources": [hostile_source]}}
    assert "<script" not in dpia_html(hostile)


@pytest.mark.parametrize("role", ["investigator", "reviewer"])
def test_roles_without_the_report_permission_are_refused(engine, role):
    admin, _ = operators(engine)
    engine.add_operator(admin, f"someone-{role}", role)
    with pytest.raises(PermissionDenied, match="may not report; allowed for: admin, auditor"):
        engine.dpia(engine.operator(name=f"someone-{role}"))


def test_drafting_the_dpia_is_audited(deployment):
    engine, _ = deployment
    last = engine._audit.records(action="report")[-1]
    assert (last.actor, last.role, last.details) == ("audrey", "auditor", {"report": "dpia"})


def test_report_dpia_command(tmp_path):
    data = tmp_path / "data"
    run("init", data_dir=data, operator="")
    run("user", "add", "audrey", "--role", "auditor", data_dir=data)
    run("user", "add", "ina", "--role", "investigator", data_dir=data)
    text = run("report", "dpia", data_dir=data, operator="audrey").stdout
    assert "Data Protection Impact Assessment (draft)" in text and TO_COMPLETE in text
    page = tmp_path / "dpia.html"
    written = run("report", "dpia", "--html", str(page), data_dir=data, operator="audrey")
    assert "DPIA draft written to" in written.stdout and page.read_text().startswith("<!doctype")
    as_json = json.loads(run("report", "dpia", "--json", data_dir=data, operator="audrey").stdout)
    assert len(as_json["safeguards"]) == len(SAFEGUARDS)
    refused = run("report", "dpia", data_dir=data, operator="ina", check=False)
    assert refused.returncode == 7 and "may not report" in refused.stderr
