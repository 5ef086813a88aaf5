"""An evidence pack per case: what was searched, what was found, who judged it, and the proof.

``facesift case export CASE`` writes one folder that stands on its own:

* ``case.json`` and ``index.html``: each kept search of the case (who, why, when, the crop of
  each probe face), each lead with its provenance (source, lawful basis, jurisdiction, image
  digest), its distance and false-match rate, every review decision and note, and the case's
  1:1 verifications; ``probes/`` and ``leads/`` hold the face crops;
* ``audit.jsonl``: the stretch of the audit chain from the case's first record to the head when
  the pack was made; the case's records in full, every other record as its digests only (its
  content belongs to other cases), so the links can be checked end to end (govern/chain.py);
* ``verify_pack.py``: the verifier, standard library only, so the pack can be checked without
  facesift or its gallery: ``python verify_pack.py PACK``;
* ``manifest.json``: every file's SHA-256, the case, the stretch, sealed together.

The export itself is audited (Action.CASE_EXPORT, with the pack's seal), so the pack can later
be matched to the gallery's own record. Erasure is respected: a lead whose face was erased since
appears as erased, with its distance and the decisions on it, and without its face or
provenance. A pack is a copy made on purpose outside the gallery: erasing a face later does not
reach packs already handed over, which is why each export is recorded with what it held.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from facesift.catalog.base import Casework, Faces, Governance
from facesift.errors import CaseNotFound, FaceSiftError, InputError
from facesift.govern import chain
from facesift.govern.audit import AuditEvent, AuditRecorder, AuditTrail
from facesift.govern.review import LeadReviews
from facesift.govern.roles import PERMISSIONS, Action, Actor
from facesift.read.crop import face_crop_jpeg
from facesift.read.decode import read_and_decode
from facesift.search.policy import plain_rate
from facesift.text import CASE_CHARS, bounded
from facesift.types import BoundingBox

Record = dict[str, Any]  # a JSON object: an audit row, a part of case.json or the manifest


@dataclass(frozen=True)
class ExportedPack:
    folder: Path
    case: str
    pack_seal: str
    searches: int
    leads: int
    erased_leads: int
    audit_records: int  # of the case, in full


class CaseEvidence:
    """Builds evidence packs from the catalog's casework and the audit chain."""

    def __init__(
        self,
        *,
        casework: Casework,
        faces: Faces,
        governance: Governance,
        reviews: LeadReviews,
        trail: AuditTrail,
        audit: AuditRecorder,
        false_match_rate: Callable[[float], float],  # distance -> the FMR a lead shows
        max_image_pixels: int,
        max_file_bytes: int,
        version: str,
        forget_deleted: Callable[[], None] = lambda: None,
    ):
        self.casework = casework
        self.faces = faces
        self.governance = governance
        self.reviews = reviews
        self.trail = trail
        self.audit = audit
        self.false_match_rate = false_match_rate
        self.max_image_pixels = max_image_pixels
        self.max_file_bytes = max_file_bytes
        self.version = version
        self.forget_deleted = forget_deleted  # the catalog's secure-delete checkpoint

    def export(self, actor: Actor, case: str, out: Path) -> ExportedPack:
        """Write the pack of ``case`` to the new folder ``out``: auditors may export any case,
        investigators a case they searched in."""
        actor.require(Action.CASE_EXPORT)
        case = bounded("case", case, CASE_CHARS)
        if not case:
            raise InputError("a case reference is needed")
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InputError(f"{out}: exists and is not an empty folder; name a new one")
        stretch, case_records = self._audit_stretch(case)
        if not case_records:
            raise CaseNotFound(f"no search, verification or review is recorded for case {case!r}")
        if Action.AUDIT_SHOW not in PERMISSIONS[actor.role] and not any(
            r["actor"] == actor.name and r["action"] == Action.SEARCH.value for r in case_records
        ):
            raise CaseNotFound(
                f"operator {actor.name!r} ran no search in case {case!r}; an auditor can "
                "export any case"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        # Built beside its destination and renamed into place: an interrupted export leaves no
        # half pack under the name asked for.
        building = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
        try:
            content = self._write_content(building, case, case_records)
            manifest = self._seal(building, case, stretch, case_records)
            if out.exists():
                out.rmdir()
            os.replace(building, out)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        self.audit.record(
            AuditEvent(
                actor,
                Action.CASE_EXPORT,
                case_ref=case,
                details={
                    "pack_seal": manifest["pack_seal"],
                    "files": len(manifest["files"]),
                    "searches": len(content["searches"]),
                    "leads": content["lead_count"],
                    "erased_leads": content["erased_count"],
                    "chain_last_seq": manifest["chain"]["last_seq"],
                },
            )
        )
        return ExportedPack(
            folder=out,
            case=case,
            pack_seal=manifest["pack_seal"],
            searches=len(content["searches"]),
            leads=content["lead_count"],
            erased_leads=content["erased_count"],
            audit_records=len(case_records),
        )

    def close(self, actor: Actor, case: str) -> int:
        """The case is over: erase the crops of the faces its searches looked for (kept only for
        the life of the case), and say so in the audit trail. Leads, reviews and the record
        stay: a later evidence pack shows the case without its probe crops. Administrators may
        close any case; an investigator a case they searched in. Returns crops erased."""
        actor.require(Action.CASE_CLOSE)
        case = bounded("case", case, CASE_CHARS)
        search_ids = self.casework.case_search_ids(case)
        if not search_ids:
            raise CaseNotFound(f"no search was kept for case {case!r}")
        if Action.SEARCH in PERMISSIONS[actor.role] and not any(
            self.reviews.kept_search(i).actor == actor.name for i in search_ids
        ):
            raise CaseNotFound(f"operator {actor.name!r} ran no search in case {case!r}")
        erased = self.casework.delete_probe_faces(search_ids)
        self.forget_deleted()  # no copy left in the catalog's free pages or its log
        self.audit.record(
            AuditEvent(
                actor,
                Action.CASE_CLOSE,
                case_ref=case,
                details={"searches": search_ids, "probe_crops_erased": erased},
            )
        )
        return erased

    # --- the audit stretch ---------------------------------------------------------------------

    def _audit_stretch(self, case: str) -> tuple[list[Record], list[Record]]:
        """The chain from the case's first record to its head: the case's records whole, the
        others as digests. Also the case's records on their own."""
        stretch: list[Record] = []
        case_records: list[Record] = []
        for row in self.trail.log.iter_audit_rows():
            record = dict(row)
            of_case = record["case_ref"] == case
            if not stretch and not of_case:
                continue
            if of_case:
                case_records.append(record)
                body = {k: record[k] for k in chain.BODY_FIELDS}
                stretch.append(
                    {
                        "seq": record["seq"],
                        "prev_hash": record["prev_hash"],
                        "hash": record["hash"],
                        "body": body,
                    }
                )
            elif record["hash"] == chain.record_hash(record):
                stretch.append(
                    {
                        "seq": record["seq"],
                        "prev_hash": record["prev_hash"],
                        "body_sha256": chain.body_sha256(record),
                        "hash": record["hash"],
                    }
                )
            else:  # sealed before chain format 2: its digest cannot be given apart from it
                stretch.append(
                    {
                        "seq": record["seq"],
                        "prev_hash": record["prev_hash"],
                        "hash": record["hash"],
                        "legacy": True,
                    }
                )
        return stretch, case_records

    # --- the case's content --------------------------------------------------------------------

    def _write_content(self, folder: Path, case: str, case_records: list[Record]) -> Record:
        (folder / "probes").mkdir()
        (folder / "leads").mkdir()
        searches = []
        lead_count = erased_count = 0
        for search_id in self.casework.case_search_ids(case):
            search = self.reviews.kept_search(search_id)
            statuses = self.reviews.statuses_of(search)
            reviews = self.casework.reviews(search_id)
            probes = []
            for probe in self.casework.probe_faces(search_id):
                name = f"probes/search-{search_id}-face-{probe.face_number}.jpg"
                (folder / name).write_bytes(probe.crop_jpeg)
                probes.append({"face_number": probe.face_number, "box": _box(probe.box),
                               "crop": name})  # fmt: skip
            face_ids = list(dict.fromkeys(face_id for _, face_id, _ in search.leads))
            stored = self.faces.stored_faces(face_ids)
            provenance = self.governance.provenance(f.image_id for f in stored.values())
            leads = []
            for number, face_id, distance in search.leads:
                lead_count += 1
                status = statuses[face_id]
                lead: dict[str, Any] = {
                    "probe_face": number,
                    "face_id": face_id,
                    "distance": round(distance, 3),
                    "false_match_rate": self.false_match_rate(distance),
                    "status": status.status.value,
                    "confirmed_by": status.confirmations,
                    "rejected_by": status.rejections,
                    "reviews": [
                        {
                            "reviewer": r.reviewer,
                            "decision": r.decision,
                            "note": r.note,
                            "at": r.at.isoformat(timespec="seconds"),
                        }
                        for r in reviews
                        if r.face_id == face_id
                    ],
                }
                face = stored.get(face_id)
                if face is None:
                    erased_count += 1
                    lead["erased"] = True  # erased since the search: no face, no provenance
                else:
                    where = provenance.get(face.image_id)
                    lead["provenance"] = {
                        "source": face.source,
                        "lawful_basis": face.lawful_basis,
                        "jurisdiction": face.jurisdiction,
                        "image_path": face.image_path,
                        "image_sha256": face.image_sha256,
                        "ingested_at": face.ingested_at.isoformat(timespec="seconds"),
                        "controller": where.controller if where else None,
                        "captured_at": (
                            where.captured_at.isoformat(timespec="seconds")
                            if where and where.captured_at
                            else None
                        ),
                    }
                    lead["box"] = _box(face.box)
                    crop = self._lead_crop(face.image_path, face.box)
                    if crop is None:
                        lead["crop"] = None  # the image file is no longer readable
                    else:
                        name = f"leads/search-{search_id}-face-{face_id}.jpg"
                        (folder / name).write_bytes(crop)
                        lead["crop"] = name
                leads.append(lead)
            searches.append(
                {
                    "search_id": search.id,
                    "investigator": search.actor,
                    "purpose": search.purpose,
                    "at": search.at.isoformat(timespec="seconds"),
                    "probe_sha256": search.probe_sha256,
                    "probe_faces": probes,
                    "leads": leads,
                }
            )
        verifications = [
            {
                "seq": r["seq"],
                "at": r["at"],
                "operator": r["actor"],
                "purpose": r["purpose"],
                **{k: r["details"].get(k) for k in ("distance", "threshold", "same_person")},
            }
            for r in case_records
            if r["action"] == Action.VERIFY.value
        ]
        content = {
            "case": case,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "facesift_version": self.version,
            "searches": searches,
            "verifications": verifications,
            "lead_count": lead_count,
            "erased_count": erased_count,
            "notice": "Matches are investigative leads for human review, not identifications.",
        }
        (folder / "case.json").write_text(json.dumps(content, indent=1) + "\n")
        (folder / "index.html").write_text(_index_html(content, case_records))
        verifier = resources.files("facesift.govern").joinpath("chain.py").read_text()
        (folder / "verify_pack.py").write_text(verifier)
        (folder / "README.txt").write_text(_readme(case))
        return content

    def _lead_crop(self, path: str, box: BoundingBox) -> bytes | None:
        try:
            _, rgb = read_and_decode(Path(path), self.max_image_pixels, self.max_file_bytes)
        except (OSError, FaceSiftError):
            return None
        return face_crop_jpeg(rgb, box)

    def _seal(
        self, folder: Path, case: str, stretch: list[Record], case_records: list[Record]
    ) -> Record:
        with open(folder / chain.PACK_AUDIT, "w", encoding="utf-8") as out:
            for record in stretch:
                out.write(json.dumps(record, sort_keys=True) + "\n")
        files = {
            str(p.relative_to(folder)): chain.file_sha256(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        manifest: dict[str, Any] = {
            "format": "facesift evidence pack 1",
            "case": case,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
            "chain": {
                "first_seq": stretch[0]["seq"],
                "last_seq": stretch[-1]["seq"],
                "last_hash": stretch[-1]["hash"],
                "case_seqs": [r["seq"] for r in case_records],
            },
        }
        manifest["pack_seal"] = chain.pack_seal(manifest)
        (folder / chain.PACK_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        return manifest


def _box(box: BoundingBox) -> dict[str, int]:
    return {"left": box.left, "top": box.top, "right": box.right, "bottom": box.bottom}


def pack_folder_name(case: str) -> str:
    """A folder name for a case's pack that no case reference can turn into a path."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", case).strip("._") or "case"
    return f"evidence-{safe[:60]}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _readme(case: str) -> str:
    return (
        f"Evidence pack of case {case}, made by facesift.\n\n"
        "index.html   the case for people to read: searches, probe and lead faces, reviews\n"
        "case.json    the same, for programs\n"
        "audit.jsonl  the audit chain from the case's first record to the head at export\n"
        "manifest.json  every file's SHA-256 and the seal over them\n\n"
        "To check the pack (any Python 3.10+, no facesift needed):\n\n"
        "    python verify_pack.py .\n\n"
        "It fails if any byte of any file was changed, a file was added or removed, or the audit "
        "records do not link up. To tie the pack to the gallery it came from, compare its seal "
        "with the case-export record in that gallery's audit trail.\n"
    )


def _index_html(content: Record, case_records: list[Record]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence pack: case {e(content['case'])}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}img{border-radius:4px;max-width:200px}table{border-collapse:"
        "collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem;text-align:left;"
        "vertical-align:top;font-size:13px}.lead{display:flex;gap:1rem;margin:.8rem 0;padding:"
        ".6rem;border:1px solid #ddd;border-radius:6px}.erased{color:#a00}.notice{background:"
        "#fff6d6;padding:.6rem;border-radius:6px}code{word-break:break-all}.lead>div{min-width:0}"
        "figure{margin:0}</style></head><body>",
        f"<h1>Evidence pack: case {e(content['case'])}</h1>",
        f"<p>Generated {e(content['generated_at'])} by facesift {e(content['facesift_version'])}."
        " Check it with <code>python verify_pack.py .</code></p>",
        f"<p class='notice'>{e(content['notice'])}</p>",
    ]
    for search in content["searches"]:
        parts.append(
            f"<h2>Search {search['search_id']}</h2><p>By {e(search['investigator'])} at "
            f"{e(search['at'])}; purpose: {e(search['purpose'])}; probe SHA-256 "
            f"<code>{e(search['probe_sha256'])}</code></p>"
        )
        probes = {p["face_number"]: p for p in search["probe_faces"]}
        for lead in search["leads"]:
            probe = probes.get(lead["probe_face"])
            probe_img = (
                f"<figure><img src='{e(probe['crop'])}' alt='probe face'><figcaption>probe face "
                f"{lead['probe_face']}</figcaption></figure>"
                if probe
                else "<p>(no probe crop kept)</p>"
            )
            if lead.get("erased"):
                lead_img = "<p class='erased'>erased since the search: no face is shown</p>"
                where = ""
            else:
                lead_img = (
                    f"<figure><img src='{e(lead['crop'])}' alt='lead face'><figcaption>face "
                    f"{lead['face_id']}</figcaption></figure>"
                    if lead.get("crop")
                    else "<p>(image file no longer readable)</p>"
                )
                p = lead["provenance"]
                where = (
                    f"<br>source {e(p['source'])} ({e(p['lawful_basis'])}, "
                    f"{e(p['jurisdiction'])}); image <code>{e(p['image_path'])}</code>, SHA-256 "
                    f"<code>{e(p['image_sha256'])}</code>; ingested {e(p['ingested_at'])}"
                )
            reviews = "".join(
                f"<li>{e(r['reviewer'])}: {e(r['decision'])} at {e(r['at'])}"
                + (f": {e(r['note'])}" if r["note"] else "")
                + "</li>"
                for r in lead["reviews"]
            )
            parts.append(
                f"<div class='lead'>{probe_img}{lead_img}<div><b>{e(lead['status'])}</b>; "
                f"distance {lead['distance']:.3f}, false-match rate "
                f"{e(plain_rate(lead['false_match_rate']))} per comparison{where}"
                f"<ul>{reviews or '<li>not reviewed</li>'}</ul></div></div>"
            )
    if content["verifications"]:
        parts.append("<h2>1:1 verifications</h2><ul>")
        for v in content["verifications"]:
            parts.append(
                f"<li>record {v['seq']}: {e(str(v['operator']))} at {e(str(v['at']))}: "
                f"distance {e(str(v['distance']))} at threshold {e(str(v['threshold']))}: "
                f"{'same person' if v['same_person'] else 'not the same person'}"
                "</li>"
            )
        parts.append("</ul>")
    parts.append(
        "<h2>Audit records of the case</h2><table><tr><th>#</th><th>at</th><th>operator</th>"
        "<th>action</th><th>purpose</th><th>details</th></tr>"
    )
    for r in case_records:
        parts.append(
            f"<tr><td>{r['seq']}</td><td>{e(r['at'])}</td><td>{e(r['actor'])} "
            f"({e(r['role'])})</td><td>{e(r['action'])}</td><td>{e(r['purpose'])}</td>"
            f"<td><code>{e(json.dumps(r['details'], sort_keys=True))}</code></td></tr>"
        )
    parts.append("</table></body></html>\n")
    return "".join(parts)
