"""Record of processing activities (GDPR Art. 30 style), generated from the deployment itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from facesift.catalog.base import Governance, Sources
from facesift.govern.audit import AuditEvent, AuditRecorder, AuditTrail
from facesift.govern.operators import OperatorRegistry
from facesift.govern.roles import Action, Actor
from facesift.types import EmbeddingSpace

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


class ProcessingRecords:
    """The record of processing activities, from the deployment's own sources and operators."""

    def __init__(
        self,
        *,
        sources: Sources,
        governance: Governance,
        operators: OperatorRegistry,
        trail: AuditTrail,
        audit: AuditRecorder,
        space: EmbeddingSpace,
        storage: str,
    ):
        self.sources = sources
        self.governance = governance
        self.operators = operators
        self.trail = trail
        self.audit = audit
        self.space = space
        self.storage = storage  # "sqlite and /path/to/data": where the deployment keeps data

    def processing_record(self, actor: Actor) -> dict[str, Any]:
        actor.require(Action.REPORT)
        counts = self.sources.source_counts()
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
            for s in self.sources.list_sources()
        ]
        recipients: dict[str, list[str]] = {}
        for operator, _created in self.operators.list():
            recipients.setdefault(operator.role.value, []).append(operator.name)
        record = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "categories_of_data": "facial images and biometric templates (GDPR Art. 9 special "
            f"category), embedding space {self.space.key}",
            "sources": sources,
            "recipients_by_role": recipients,
            "transfers": f"none made by facesift; the deployment stores all data in {self.storage}",
            "opt_outs": self.governance.optout_count(),
            "erased_at_subjects_request": self.governance.tombstone_count(),
            "audit_records": len(self.trail.records()),
            "safeguards": list(SAFEGUARDS),
        }
        self.audit.record(AuditEvent(actor, Action.REPORT, details={"report": "processing"}))
        return record


def processing_record_markdown(record: dict[str, Any]) -> str:
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
