"""What a DPIA draft says facesift enforces, and what it leaves to the controller: the safeguards,
each with the tests that prove it (tests/unit/govern/test_dpia.py fails if one is renamed or
removed), and the questions only the controller can answer, with the articles that ask them.
Data, kept apart from the drafting (govern/dpia.py) so that it reads as a list.
"""

from __future__ import annotations

from dataclasses import dataclass

from facesift.config import Settings
from facesift.search.policy import MAX_LEADS_PER_FACE

# --- the safeguards, each with the tests that prove it ------------------------------------------


@dataclass(frozen=True)
class Safeguard:
    key: str
    risk: str  # to the rights and freedoms of the people whose faces are held or searched for
    measure: str  # what facesift enforces against it
    tests: tuple[str, ...]  # pytest node ids; tests/unit/govern/test_dpia.py checks they exist


SAFEGUARDS = (
    Safeguard(
        "lawful-basis",
        "Faces collected without a lawful basis, a stated purpose or an accountable controller",
        "No ingest without a declared source stating its lawful basis, purpose, jurisdiction "
        "(ISO 3166-1), retention period and the controller's contact; ingest into an undeclared "
        "source is refused and stores nothing.",
        (
            "tests/unit/test_engine.py::test_ingest_without_a_declared_source_is_refused",
            "tests/unit/catalog/test_sql_catalog.py::test_source_validation",
            "tests/unit/catalog/test_sql_catalog.py::test_purpose_and_controller_are_required",
            "tests/unit/serve/test_api_inputs.py::test_ingest_into_unknown_source_stores_nothing",
        ),
    ),
    Safeguard(
        "consent",
        "Photos held after the person's consent has ended",
        "A consent source needs a consent reference per image; a photo whose consent has ended "
        "is not ingested, and consent end dates shorten retention.",
        (
            "tests/integration/test_governance_lfw.py"
            "::test_consent_sources_need_a_consent_reference_per_image",
            "tests/unit/govern/test_expired_consent.py"
            "::test_a_photo_whose_consent_ended_is_not_ingested",
        ),
    ),
    Safeguard(
        "retention",
        "Faces kept longer than the purpose needs (GDPR Art. 5(1)(e))",
        "Every image carries its source's retention period, bounded by the deployment's limit; "
        "past it the image is never a lead, and `facesift purge` deletes it, with a receipt in "
        "the audit trail.",
        (
            "tests/unit/govern/test_expired_consent.py"
            "::test_an_image_past_its_retention_is_never_a_lead",
            "tests/integration/test_governance_lfw.py::test_retention_purge",
            "tests/unit/govern/test_input_bounds.py::test_retention_is_bounded_by_the_deployment",
        ),
    ),
    Safeguard(
        "erasure",
        "An erased person left in a copy, a cache or a later re-ingest (GDPR Art. 17)",
        "Erasure by selfie removes the faces, emptied images, thumbnails and stored access reports "
        "from every file of the data directory, and bars the erased photos from being ingested "
        "again.",
        (
            "tests/unit/govern/test_erasure_leaves_nothing.py"
            "::test_after_erasure_no_file_of_the_data_directory_holds_the_person",
            "tests/unit/govern/test_erasure_leaves_nothing.py"
            "::test_an_access_report_that_showed_erased_faces_is_withdrawn",
            "tests/integration/test_governance_lfw.py::test_erase_one_person_by_one_photo",
            "tests/unit/ingest/test_reembed_dlib_to_default.py"
            "::test_an_erased_photo_stays_erased_after_the_switch",
        ),
    ),
    Safeguard(
        "opt-out",
        "A person who objected being found or indexed again (GDPR Art. 21)",
        "An opt-out keeps the person's face template (not their photo): faces already held are "
        "hidden from every search and new photos of them are not indexed, also after a change of "
        "model.",
        (
            "tests/integration/test_governance_lfw.py"
            "::test_optout_hides_existing_faces_and_blocks_new_ones",
            "tests/unit/serve/test_api_flows.py"
            "::test_operator_opt_out_hides_the_person_from_searches",
            "tests/unit/ingest/test_reembed_dlib_to_default.py"
            "::test_an_opted_out_person_stays_out_after_the_switch",
        ),
    ),
    Safeguard(
        "roles",
        "Misuse by insiders: one person both searching and deleting, or exporting the gallery",
        "Separation of duties: administrators cannot search, investigators cannot erase or "
        "change data, auditors cannot search; nobody may export embeddings in bulk; every API "
        "endpoint allows exactly its roles.",
        (
            "tests/unit/govern/test_roles.py::test_separation_of_duties",
            "tests/unit/govern/test_roles.py::test_role_matrix",
            "tests/unit/govern/test_roles.py::test_nobody_may_export_embeddings",
            "tests/integration/test_governance_lfw.py::test_roles_hold_in_the_engine",
            "tests/unit/serve/test_api_roles.py::test_endpoint_allows_exactly_its_roles",
        ),
    ),
    Safeguard(
        "need-to-know",
        "Operators browsing faces they have no case for",
        "Investigators see only the faces their own searches returned; every view of a face, "
        "photo, kept search or request list is recorded in the audit trail.",
        (
            "tests/unit/serve/test_api_flows.py"
            "::test_investigator_sees_only_faces_their_searches_showed",
            "tests/unit/serve_web/test_search_review.py"
            "::test_investigators_see_only_their_own_searches_and_leads",
            "tests/unit/govern/test_reads_are_audited.py"
            "::test_every_read_of_a_face_photo_search_or_request_list_is_audited",
        ),
    ),
    Safeguard(
        "tamper-evident-audit",
        "Misuse hidden by editing or deleting the record of it",
        "The audit trail is hash-chained: an edited, deleted, reordered or truncated record is "
        "detected and named by `facesift audit verify`, also when the chain was re-sealed; a "
        "batch an ingest committed is on the record even if the process was killed.",
        (
            "tests/unit/ingest/test_owed_audit_records.py"
            "::test_a_batch_whose_record_was_never_written_is_recorded_by_the_next_ingest",
            "tests/unit/govern/test_audit.py::test_an_edited_record_is_named",
            "tests/unit/govern/test_audit.py::test_a_deleted_record_is_named",
            "tests/unit/govern/test_audit.py::test_reordered_records_are_detected",
            "tests/unit/govern/test_audit.py"
            "::test_records_removed_from_the_end_are_detected_by_the_head",
            "tests/unit/govern/test_audit.py"
            "::test_a_chain_resealed_with_its_head_is_caught_by_an_exported_checkpoint",
        ),
    ),
    Safeguard(
        "purpose-and-case",
        "Searches without a legitimate reason (function creep)",
        "Every search and verification states a purpose and a case reference, kept in the audit "
        "trail; a search refused for lacking them is not run.",
        (
            "tests/unit/cli/test_cli.py::test_search_needs_purpose_and_case",
            "tests/unit/serve/test_api_inputs.py::test_blank_purpose_is_refused_by_the_engine_rule",
            "tests/unit/govern/test_input_bounds.py::test_search_purpose_and_case_are_bounded",
        ),
    ),
    Safeguard(
        "human-review",
        "A false match acted on as an identification",
        "Results are investigative leads, not identifications; a lead is confirmed only by two "
        "different reviewers, and a rejection stops its confirmation.",
        (
            "tests/unit/serve/test_api_flows.py"
            "::test_a_lead_is_confirmed_only_by_two_different_reviewers",
            "tests/unit/serve/test_api_flows.py::test_a_rejection_is_recorded_and_stops_confirmation",
            "tests/unit/serve_web/test_search_review.py"
            "::test_a_lead_is_confirmed_only_by_two_different_reviewers",
        ),
    ),
    Safeguard(
        "search-bounds",
        "Trawling: wide searches that return many strangers",
        "A search or verification may not be run at a false-match rate above the deployment's "
        "maximum, and returns a bounded number of leads per face.",
        (
            "tests/unit/search/test_extraction_bounds.py"
            "::test_a_search_at_a_false_match_rate_of_40_percent_is_refused",
            "tests/unit/search/test_extraction_bounds.py::test_lead_lists_are_bounded",
        ),
    ),
    Safeguard(
        "portal",
        "The public subject portal abused, or keeping more than it needs",
        "The portal acts as 'the public' with no permission of its own; oversized selfies are "
        "refused before they are read; a kept selfie is re-encoded without its metadata; selfies "
        "it could not answer are refused; nothing is disclosed or erased before an administrator "
        "records how they checked the requester's identity.",
        (
            "tests/unit/serve/test_portal_selfies.py"
            "::test_the_portal_is_recorded_as_the_public_and_cannot_be_made_an_operator",
            "tests/unit/serve/test_portal_selfies.py"
            "::test_an_oversized_selfie_is_refused_before_it_is_read",
            "tests/unit/serve/test_portal_selfies.py"
            "::test_a_kept_selfie_is_reencoded_without_metadata_or_riders",
            "tests/unit/serve/test_api_flows.py::test_portal_refuses_selfies_it_could_not_answer",
            "tests/unit/govern/test_erasure_leaves_nothing.py"
            "::test_nothing_is_disclosed_before_the_requesters_identity_is_checked",
        ),
    ),
    Safeguard(
        "no-scraping",
        "Untargeted scraping of facial images from the internet (EU AI Act Art. 5(1)(e))",
        "There is no crawler: ingest takes only the files and folders an operator names, "
        "manifests naming such files, and uploads to a declared source; facesift contains no "
        "network client to fetch images with.",
        (
            "tests/unit/govern/test_dpia.py::test_facesift_has_no_network_client_to_fetch_images",
            "tests/unit/serve/test_api_inputs.py::test_manifest_may_not_name_files_outside_the_upload",
        ),
    ),
    Safeguard(
        "private-storage",
        "Stored biometric data read by other users of the host, or by a former operator",
        "The data directory and every file in it are private to their owner; a disabled "
        "operator's key and web sessions stop working at once.",
        (
            "tests/unit/cli/test_careless_input.py"
            "::test_the_data_directory_and_its_files_are_private_to_their_owner",
            "tests/unit/serve/test_api_operators.py"
            "::test_a_disabled_operators_key_stops_working_at_once",
            "tests/unit/serve_web/test_session.py::test_disabling_an_operator_ends_their_sessions",
        ),
    ),
    Safeguard(
        "case-evidence",
        "A lead's handling cannot be shown later, or the record of it is altered",
        "`facesift case export` writes a case's evidence pack: probe crops, leads with provenance "
        "and false-match rates, every review, and the case's audit records in a chain stretch "
        "whose other records appear only as digests; it verifies with Python alone and fails "
        "if one byte changes; erased leads appear without their face; every export is audited.",
        (
            "tests/unit/govern/test_evidence_pack.py"
            "::test_the_pack_holds_the_case_and_verifies_with_only_the_standard_library",
            "tests/unit/govern/test_evidence_pack.py::test_a_pack_changed_by_one_byte_anywhere_fails",
            "tests/unit/govern/test_evidence_pack.py"
            "::test_an_erased_lead_appears_as_erased_without_its_face",
            "tests/unit/govern/test_evidence_pack.py::test_who_may_export_which_case",
        ),
    ),
)


def in_force(key: str, settings: Settings) -> str:
    """How this deployment is configured for the safeguard ``key`` (empty: nothing to set)."""
    if key == "retention":
        return f"Longest retention allowed: {settings.max_retention_days} days."
    if key == "purpose-and-case":
        if settings.require_purpose_and_case:
            return "Enforced (FACESIFT_REQUIRE_PURPOSE_AND_CASE=true)."
        return (
            "NOT ENFORCED in this deployment (FACESIFT_REQUIRE_PURPOSE_AND_CASE=false): searches "
            "may be run without a purpose or case reference."
        )
    if key == "search-bounds":
        return (
            f"Highest false-match rate a search may use: {settings.max_search_false_match_rate:g}"
            f"; at most {MAX_LEADS_PER_FACE} leads per face."
        )
    if key == "portal":
        return (
            f"Largest selfie: {settings.portal_max_selfie_bytes // 2**20} MiB and "
            f"{settings.portal_max_selfie_pixels:,} pixels."
        )
    return ""


# --- what only the controller can answer --------------------------------------------------------


@dataclass(frozen=True)
class ControllerQuestion:
    key: str
    title: str
    article: str  # the article that asks for the answer
    question: str


CONTROLLER_QUESTIONS = (
    ControllerQuestion(
        "necessity",
        "Necessity and proportionality",
        "GDPR Art. 35(7)(b)",
        "Why facial recognition is necessary for the purposes above, and why less intrusive "
        "means (manual comparison, searching by name or reference, no biometric processing) "
        "would not achieve them; why the sources, retention periods and operators are no more "
        "than those purposes need.",
    ),
    ControllerQuestion(
        "special-category-condition",
        "The condition for processing biometric data",
        "GDPR Art. 9(2)",
        "For each source, the condition of Art. 9(2) (or of the law-enforcement rules that apply) "
        "that permits processing biometric data to identify a person; the lawful bases above are "
        "those of Art. 6.",
    ),
    ControllerQuestion(
        "processes",
        "The processes in which facesift is used",
        "EU AI Act Art. 27(1)(a)",
        "The deployer's processes in which facesift is used, in line with its intended purpose: "
        "who asks for a search, and what is done with a confirmed lead.",
    ),
    ControllerQuestion(
        "period-and-frequency",
        "Period and frequency of use",
        "EU AI Act Art. 27(1)(b)",
        "The period of time within which, and the frequency with which, facesift is intended to "
        "be used.",
    ),
    ControllerQuestion(
        "affected-persons",
        "The persons affected, and their number",
        "EU AI Act Art. 27(1)(c); GDPR Art. 35(7)(a)",
        "The categories of natural persons and groups likely to be affected (those in the "
        "gallery, those searched for, bystanders in probe photos) and their number.",
    ),
    ControllerQuestion(
        "specific-risks",
        "Specific risks of harm",
        "EU AI Act Art. 27(1)(d); GDPR Art. 35(7)(c)",
        "The specific risks of harm to those categories in this deployment's context, taking "
        "account of the measured differentials above (who is more often falsely matched or "
        "missed), and what a false match or a missed match would lead to.",
    ),
    ControllerQuestion(
        "human-oversight",
        "Human oversight",
        "EU AI Act Art. 27(1)(e), Art. 26(2)",
        "The human-oversight arrangements beyond the two-reviewer rule: who the reviewers are, "
        "their training, competence and authority to reject a lead, and how a confirmed lead is "
        "corroborated before anyone acts on it.",
    ),
    ControllerQuestion(
        "redress",
        "Complaints and redress",
        "EU AI Act Art. 27(1)(f); GDPR Art. 77-79",
        "The measures if the risks materialise: internal governance, how people can complain "
        "and obtain redress, and how they are told about facesift and the subject portal.",
    ),
    ControllerQuestion(
        "consultation",
        "Consultation of data subjects",
        "GDPR Art. 35(9)",
        "The views of data subjects or their representatives that were sought, and what was "
        "done with them (or why seeking them was not appropriate).",
    ),
    ControllerQuestion(
        "dpo-advice",
        "Advice of the data protection officer",
        "GDPR Art. 35(2)",
        "The advice of the data protection officer, and whether it was followed.",
    ),
    ControllerQuestion(
        "prior-consultation",
        "Prior consultation of the supervisory authority",
        "GDPR Art. 36(1)",
        "Whether a high risk remains after the measures; if so, the date of the prior "
        "consultation of the supervisory authority and its outcome.",
    ),
    ControllerQuestion(
        "notification",
        "Notification of the market surveillance authority",
        "EU AI Act Art. 27(3)",
        "The date on which the market surveillance authority was notified of the results of "
        "this assessment.",
    ),
    ControllerQuestion(
        "review-and-approval",
        "Approval and review",
        "GDPR Art. 35(11)",
        "Who approved this assessment and when, and when it will be reviewed (at the latest when "
        "the sources, the model or the purposes change).",
    ),
)
