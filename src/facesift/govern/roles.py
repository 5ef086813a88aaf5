"""Operators, roles and what each role may do.

Separation of duties: administrators run the gallery and answer data subjects but do not search;
investigators search but cannot change or erase data; reviewers confirm leads; auditors read the
audit trail and records but cannot search. No role may export embeddings in bulk.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from facesift.errors import PermissionDenied


class Role(enum.StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    # Not an operator: whoever uses the anonymous subject portal. It may do nothing that needs a
    # permission; it exists so that the audit trail records the public's requests as the
    # public's, never under an administrator's role.
    PUBLIC = "public"


# The roles an operator can be given (the CLI's and the API's choices).
OPERATOR_ROLES = (Role.ADMIN, Role.INVESTIGATOR, Role.REVIEWER, Role.AUDITOR)


class OperatorRole(enum.StrEnum):
    ADMIN = Role.ADMIN.value
    INVESTIGATOR = Role.INVESTIGATOR.value
    REVIEWER = Role.REVIEWER.value
    AUDITOR = Role.AUDITOR.value


class Action(enum.StrEnum):
    SOURCE_ADD = "source-add"
    SOURCE_LIST = "source-list"
    SOURCE_EDIT = "source-edit"  # description, purpose, controller: never the legal terms
    SOURCE_RETIRE = "source-retire"  # no new ingest; its images stay until erased
    INGEST = "ingest"
    SEARCH = "search"
    VERIFY = "verify"
    REVIEW = "review"
    STATS = "stats"
    SUBJECT_ACCESS = "subject-access"
    SUBJECT_ERASE = "subject-erase"
    SUBJECT_OPTOUT = "subject-optout"
    SUBJECT_REQUEST = "subject-request"
    ERASE = "erase"
    PURGE = "purge"
    AUDIT_SHOW = "audit-show"
    AUDIT_VERIFY = "audit-verify"
    AUDIT_EXPORT = "audit-export"  # a download of the trail (CSV or JSON), itself on the record
    USER_ADD = "user-add"
    USER_LIST = "user-list"
    USER_DISABLE = "user-disable"
    USER_ROTATE_KEY = "user-rotate-key"
    USER_SCOPE = "user-scope"  # which sources an operator's searches may return faces from
    REPORT = "report"
    INDEX_ADMIN = "index-admin"
    CLUSTER = "cluster"
    IDENTITY_VIEW = "identity-view"
    IDENTITY_EDIT = "identity-edit"
    DUPLICATES = "duplicates"
    REEMBED = "reembed"
    EXPORT_EMBEDDINGS = "export-embeddings"
    CASE_EXPORT = "case-export"  # an evidence pack of one case (govern/evidence.py)
    CASE_CLOSE = "case-close"  # a case is over: its probe crops are erased
    # Reads that show people, audited as they happen (each is allowed by the rules of
    # govern/visibility.py and govern/review.py, not by a permission of its own).
    VIEW_IMAGE = "view-image"
    VIEW_FACE = "view-face"
    VIEW_SEARCH = "view-search"
    VIEW_REQUESTS = "view-requests"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(
        {
            Action.SOURCE_ADD,
            Action.SOURCE_LIST,
            Action.SOURCE_EDIT,
            Action.SOURCE_RETIRE,
            Action.INGEST,
            Action.STATS,
            Action.SUBJECT_ACCESS,
            Action.SUBJECT_ERASE,
            Action.SUBJECT_OPTOUT,
            Action.SUBJECT_REQUEST,
            Action.ERASE,
            Action.PURGE,
            Action.USER_ADD,
            Action.USER_LIST,
            Action.USER_DISABLE,
            Action.USER_ROTATE_KEY,
            Action.USER_SCOPE,
            Action.CASE_CLOSE,
            Action.REPORT,
            Action.INDEX_ADMIN,
            Action.AUDIT_VERIFY,
            Action.CLUSTER,
            Action.REEMBED,
        }
    ),
    Role.INVESTIGATOR: frozenset(
        {
            Action.SEARCH,
            Action.VERIFY,
            Action.SOURCE_LIST,
            Action.STATS,
            Action.CLUSTER,
            Action.IDENTITY_VIEW,
            Action.IDENTITY_EDIT,
            Action.DUPLICATES,
            Action.CASE_EXPORT,
            Action.CASE_CLOSE,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Action.REVIEW,
            Action.VERIFY,
            Action.SOURCE_LIST,
            Action.STATS,
            Action.IDENTITY_VIEW,
            Action.IDENTITY_EDIT,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Action.AUDIT_SHOW,
            Action.AUDIT_VERIFY,
            Action.AUDIT_EXPORT,
            Action.REPORT,
            Action.SOURCE_LIST,
            Action.STATS,
            Action.CASE_EXPORT,
        }
    ),
    Role.PUBLIC: frozenset(),
}
# Deliberately granted to nobody: a face search engine must not become an embedding exporter.
assert all(Action.EXPORT_EMBEDDINGS not in allowed for allowed in PERMISSIONS.values())


@dataclass(frozen=True)
class Actor:
    """Who is acting: an operator's name and role. Every audit record names one."""

    name: str
    role: Role
    # The sources this operator's searches may return faces from; None: every source. Set by
    # an administrator (`facesift user scope`): a unit's investigators search their unit's
    # galleries, never, say, a trust-and-safety team's account photos.
    sources: frozenset[str] | None = None

    def may_search(self, source: str) -> bool:
        """Whether this operator's searches may return faces of ``source``."""
        return self.sources is None or source in self.sources

    def require(self, action: Action) -> None:
        if action not in PERMISSIONS[self.role]:
            allowed = [r.value for r, actions in PERMISSIONS.items() if action in actions]
            raise PermissionDenied(self.name, self.role, action, allowed)


# The one actor that is not an operator: the first `facesift init`, which creates the first
# administrator. It can do nothing else.
BOOTSTRAP = Actor("bootstrap", Role.ADMIN)
