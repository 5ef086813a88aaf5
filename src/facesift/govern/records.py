"""Record of processing activities (GDPR Art. 30 style), generated from the deployment itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from facesift.govern.audit import AuditEvent
from facesift.govern.roles import Action, Actor

if TYPE_CHECKING:
    from facesift.engine import FaceSift

SAFEGUARDS = (
    "No ingest without a declared source with lawful basis, purpose, jurisdiction, retention "
    "and controller contact",
    "Consent sources require a consent reference per image; consent end dates shorten retention",
    "Retention enforced by `facesift purge`, with receipts in the audit trail",
    "Subject access, erasure and opt-out by face; erased photos are never re-ingested",
    "Hash-chained, tamper-evident audit trail of every ingest, search, verification, access, "
    "erasure, opt-out, purge and configuration change",
    "Role-based access: administrators do not search, investigators cannot erase, auditors cannot "
    "search; nobody can export embeddings in bulk",
    "Every search states a purpose and case reference; results are leads for human review",
    "No web or social-media collection (EU AI Act Art. 5(1)(e))",
)


def processing_record(engine: FaceSift, actor: Actor) -> dict:
    actor.require(Action.REPORT)
    counts = engine.catalog.source_counts()
    sources = [
        {
            "name": s.name,
            "purpose": s.purpose,
            "lawful_basis": s.lawful_basis.value,
            "jurisdiction": s.jurisdiction,
            "retention_days": s.retention_days,
            "controller": s.controller,
            "description": s.description,
            "images": counts.get(s.name, (0, 0))[0],
            "faces": counts.get(s.name, (0, 0))[1],
        }
        for s in engine.sources()
    ]
    recipients: dict[str, list[str]] = {}
    for operator, _created in engine.operators.list():
        recipients.setdefault(operator.role.value, []).append(operator.name)
    record = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "categories_of_data": "facial images and biometric templates (GDPR Art. 9 special "
        f"category), embedding space {engine.space.key}",
        "sources": sources,
        "recipients_by_role": recipients,
        "transfers": "none made by facesift; the deployment stores all data in "
        f"{engine.settings.resolved_catalog_url.split('://')[0]} and {engine.data_dir}",
        "opt_outs": engine.catalog.optout_count(),
        "erased_at_subjects_request": engine.catalog.tombstone_count(),
        "audit_records": len(engine.audit.records()),
        "safeguards": list(SAFEGUARDS),
    }
    engine.record(AuditEvent(actor, Action.REPORT, details={"report": "processing"}))
    return record


def processing_record_markdown(record: dict) -> str:
    lines = [
        f"# Record of processing activities\n\nGenerated {record['generated_at']}.\n",
        f"**Categories of data:** {record['categories_of_data']}\n",
        "## Sources\n",
        "| source | purpose | lawful basis | jurisdiction | retention (days) | controller "
        "| images | faces |",
        "|---|---|---|---|---:|---|---:|---:|",
    ]
    for s in record["sources"]:
        lines.append(
            f"| {s['name']} | {s['purpose']} | {s['lawful_basis']} | {s['jurisdiction']} "
            f"| {s['retention_days']} | {s['controller']} | {s['images']} | {s['faces']} |"
        )
    lines.append("\n## Recipients (operators by role)\n")
    for role, names in sorted(record["recipients_by_role"].items()):
        lines.append(f"- {role}: {', '.join(names)}")
    lines += [
        f"\n**Transfers:** {record['transfers']}",
        f"\n**Opt-outs held:** {record['opt_outs']}; **photos erased at a subject's "
        f"request:** {record['erased_at_subjects_request']}; **audit records:** "
        f"{record['audit_records']}",
        "\n## Safeguards\n",
    ]
    lines += [f"- {s}" for s in record["safeguards"]]
    return "\n".join(lines) + "\n"
