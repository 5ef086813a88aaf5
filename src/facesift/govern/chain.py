"""The audit chain's hashing, and the check of an evidence pack against it.

STANDARD LIBRARY ONLY: this file is copied into every evidence pack as ``verify_pack.py``, so
that whoever receives a pack (a court, a defence lawyer, an oversight body) can check it with
any Python 3.10+, without facesift, its models or its gallery: ``python verify_pack.py PACK``.

How a record is sealed (chain format 2). A record's *body* is every field but its hash and the
previous record's hash; its hash seals the body's digest with its place in the chain:

    body_sha256 = sha256(canonical JSON of the body)
    hash        = sha256(canonical JSON of {"v": 2, "seq", "prev_hash", "body_sha256"})

so a pack can carry the records of one case in full and every other record of the same stretch
of the chain as ``seq, prev_hash, body_sha256, hash`` only: the links can be checked end to end
while the other cases' purposes, references and operators stay out of the pack. Records written
before format 2 sealed the whole record at once (``legacy_hash``); they still verify in the
gallery, and a pack can only say that they are linked, not what they held.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHAIN_FORMAT = 2
BODY_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "purpose",
    "case_ref",
    "probe_sha256",
    "details",
    "gallery_version",
)
PACK_MANIFEST = "manifest.json"
PACK_AUDIT = "audit.jsonl"


def seal(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def body_sha256(record: dict[str, Any]) -> str:
    return seal({k: record[k] for k in BODY_FIELDS})


def linked_hash(seq: int, prev_hash: str, body_digest: str) -> str:
    return seal({"v": CHAIN_FORMAT, "seq": seq, "prev_hash": prev_hash, "body_sha256": body_digest})


def record_hash(record: dict[str, Any]) -> str:
    """The hash a record is sealed with now (format 2)."""
    return linked_hash(record["seq"], record["prev_hash"], body_sha256(record))


def legacy_hash(record: dict[str, Any]) -> str:
    """The hash records were sealed with before format 2: the whole record at once."""
    return seal({k: record[k] for k in (*BODY_FIELDS, "prev_hash")})


def sealed_correctly(record: dict[str, Any]) -> bool:
    return record["hash"] in (record_hash(record), legacy_hash(record))


# --- evidence packs --------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack_seal(manifest: dict[str, Any]) -> str:
    """What ties a pack together: the manifest (every file's digest, the case, the stretch of
    the chain) sealed with the chain's last hash. Recorded in the gallery's audit trail when the
    pack is made, so the pack as a whole can be matched to that record later."""
    return seal({k: v for k, v in manifest.items() if k != "pack_seal"})


def verify_pack(folder: Path) -> tuple[list[str], list[str]]:
    """(problems, facts) about the pack in ``folder``; it verifies when there are no problems."""
    problems: list[str] = []
    facts: list[str] = []
    try:
        manifest = json.loads((folder / PACK_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{PACK_MANIFEST}: cannot be read ({error})"], facts
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return [f"{PACK_MANIFEST}: not an evidence-pack manifest"], facts
    if pack_seal(manifest) != manifest.get("pack_seal"):
        problems.append(f"{PACK_MANIFEST} was changed after the pack was sealed")
    listed = manifest["files"]
    for name, expected in sorted(listed.items()):
        path = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"{name}: not a file inside the pack")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != expected:
            problems.append(f"{name}: changed (its SHA-256 is not the one in the manifest)")
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {
        PACK_MANIFEST
    }
    for extra in sorted(present - set(listed)):
        problems.append(f"{extra}: not part of the pack as it was made")
    try:
        chain_problems, chain_facts = _verify_segment(folder / PACK_AUDIT, manifest)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        # A field of the wrong type where the checks above let it through: changed, not valid.
        chain_problems, chain_facts = [f"{PACK_AUDIT}: malformed ({error!r})"], []
    return problems + chain_problems, facts + chain_facts


def _verify_segment(path: Path, manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Each record of the stretch follows the one before; records of the case are whole."""
    problems: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as error:
        return [f"{PACK_AUDIT}: cannot be read ({error})"], []
    found = manifest.get("chain")
    chain: dict[str, Any] = found if isinstance(found, dict) else {}
    if not records:
        return [f"{PACK_AUDIT}: holds no records"], []
    for position, record in enumerate(records):
        if not _well_formed(record):
            return [f"{PACK_AUDIT}: line {position + 1} is not an audit record"], []
    expected_prev, expected_seq = records[0].get("prev_hash"), records[0].get("seq")
    case_records = legacy = 0
    case = manifest.get("case")
    in_full = {r.get("seq") for r in records if "body" in r}
    case_seqs = chain.get("case_seqs")
    withheld = sorted(set(case_seqs if isinstance(case_seqs, list) else []) - in_full)
    if withheld:
        problems.append(
            f"records {', '.join(map(str, withheld))} of the case are not shown in full"
        )
    for record in records:
        seq = record["seq"]
        if seq != expected_seq:
            problems.append(f"record {expected_seq} is missing from the stretch (next is {seq})")
            break
        if record.get("prev_hash") != expected_prev:
            problems.append(f"record {seq} does not follow record {seq - 1}")
            break
        if "body" in record:  # a record of the case, in full
            full = dict(record["body"], prev_hash=record["prev_hash"], hash=record["hash"])
            if record["body"].get("case_ref") != case:
                problems.append(f"record {seq} is shown in full but is not of case {case!r}")
            if not sealed_correctly(full):
                problems.append(f"record {seq} was changed after it was written")
                break
            case_records += 1
        elif record.get("legacy"):
            legacy += 1  # written before chain format 2: linked by its stored hash only
        elif linked_hash(seq, record["prev_hash"], record.get("body_sha256", "")) != record.get(
            "hash"
        ):
            problems.append(f"record {seq} (of another case, withheld) does not match its hash")
            break
        expected_prev, expected_seq = record["hash"], seq + 1
    else:
        last = records[-1]
        if (last["seq"], last["hash"]) != (chain.get("last_seq"), chain.get("last_hash")):
            problems.append(
                f"the stretch ends at record {last['seq']}, not where the manifest says "
                f"({chain.get('last_seq')})"
            )
        if records[0]["seq"] != chain.get("first_seq"):
            problems.append("the stretch does not start where the manifest says")
    facts = [
        f"audit records {records[0].get('seq')}..{records[-1].get('seq')} link up; "
        f"{case_records} of them are of case {case!r} and are shown in full"
        + (f"; {legacy} older records are linked by their stored hash only" if legacy else ""),
        f"chain head when the pack was made: record {chain.get('last_seq')}, "
        f"{chain.get('last_hash')}",
        f"pack seal: {manifest.get('pack_seal')} (the gallery's audit trail records it with the "
        "export: `facesift audit show --action case-export`)",
    ]
    return problems, facts


def _well_formed(record: Any) -> bool:
    """A record of the stretch has the fields its check reads, of the right types."""
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
        return False
    if not all(isinstance(record.get(k), str) for k in ("prev_hash", "hash")):
        return False
    if "body" in record:
        body = record["body"]
        return isinstance(body, dict) and all(k in body for k in BODY_FIELDS)
    return bool(record.get("legacy")) or isinstance(record.get("body_sha256"), str)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python verify_pack.py PACK_FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        print(f"{folder}: not a folder", file=sys.stderr)
        return 2
    problems, facts = verify_pack(folder)
    for fact in facts:
        print(fact)
    if problems:
        print(f"\nNOT VERIFIED: {folder}", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"\nverified: every file of {folder} is as it was made, and its audit records link up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
