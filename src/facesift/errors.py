"""One exception tree for facesift. Every error names the input it is about.

    FaceSiftError                   exit code 1 unless a branch says otherwise
    ├── ConfigError            (2)  bad settings, no calibration for a space
    │   └── BackendNotFound         unknown backend name; lists the known ones
    ├── InputError             (3)  something a user handed us is unusable
    │   ├── ImageError              not an image, corrupt, truncated, too large
    │   ├── NoFaceError             a probe or selfie has no usable face
    │   ├── AmbiguousFaceError      a probe has several faces where one was needed
    │   ├── NotFoundError           an id or reference that names nothing (also a LookupError)
    │   │   ├── FaceNotFound        a face or image id (it may have been erased)
    │   │   ├── IdentityNotFound    an identity id
    │   │   ├── SearchNotFound      a kept search's id
    │   │   ├── RequestNotFound     a subject request's id or reference
    │   │   └── OperatorNotFound    no enabled operator of that name (as a target, not a caller)
    │   ├── DuplicateNameError      a name that is already taken (an operator's)
    │   └── ReviewConflict          a lead review the rules refuse
    │       └── DuplicateReview     the reviewer already decided on this lead
    ├── SourceError            (4)  source missing, unknown lawful basis, duplicate name
    ├── CatalogError           (5)  catalog cannot be opened or migrated, audit contention
    ├── IndexError_            (6)  vector index problems
    │   └── SpaceMismatchError      vectors from another embedding space
    ├── AccessError            (7)  who is acting, and what they may do or see
    │   ├── AuthenticationError     unknown operator or API key
    │   ├── PermissionDenied        the role may not do this action
    │   ├── NotShown                a face or image never shown to this operator as a lead
    │   ├── NotSignedIn             a web page asked for without a valid session
    │   └── CsrfRefused             a form without its session's token
    ├── GalleryBusyError       (8)  another writer (ingest, erasure) holds the gallery
    └── JobInterrupted              the server is shutting down; the job kept what it committed

Errors are translated once at each edge: the CLI prints ``str(error)`` and exits with
``exit_code``; the API answers a problem document whose status follows the branch
(serve/problems.py); nothing below the edges catches-and-hides them.
"""

from __future__ import annotations

from collections.abc import Sequence


class FaceSiftError(Exception):
    """Base of every error facesift raises on purpose."""

    exit_code = 1


class ConfigError(FaceSiftError):
    exit_code = 2


class BackendNotFound(ConfigError):
    def __init__(self, kind: str, name: str, known: Sequence[str]):
        super().__init__(f"unknown {kind} backend {name!r}; known: {', '.join(sorted(known))}")
        self.kind, self.name, self.known = kind, name, list(known)


class InputError(FaceSiftError):
    exit_code = 3


class ImageError(InputError):
    """An image file could not be used. ``path`` names it; the message says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class NoFaceError(InputError):
    def __init__(self, path: str):
        super().__init__(f"{path}: no face found (faces smaller than the minimum size are ignored)")
        self.path = path


class AmbiguousFaceError(InputError):
    def __init__(self, path: str, count: int):
        super().__init__(f"{path}: {count} faces found; choose one with --face N (1..{count})")
        self.path, self.count = path, count


class NotFoundError(InputError, LookupError):
    """An id or reference that names nothing. Its message names the id."""

    def __str__(self) -> str:
        # LookupError's KeyError-like repr quoting never applies: the message is the message.
        return str(self.args[0]) if self.args else ""


class FaceNotFound(NotFoundError):
    pass


class IdentityNotFound(NotFoundError):
    pass


class SearchNotFound(NotFoundError):
    def __init__(self, search_id: int):
        super().__init__(f"search {search_id} not found")
        self.search_id = search_id


class RequestNotFound(NotFoundError):
    pass


class CaseNotFound(NotFoundError):
    """No search, verification or review is recorded under a case reference (for this
    operator)."""


class OperatorNotFound(NotFoundError):
    pass


class DuplicateNameError(InputError):
    pass


class ReviewConflict(InputError):
    """A review that the rules refuse (own search, second decision by the same reviewer)."""


class DuplicateReview(ReviewConflict):
    """The reviewer already decided on this lead."""


class SourceError(FaceSiftError):
    exit_code = 4


class CatalogError(FaceSiftError):
    exit_code = 5


class IndexError_(FaceSiftError):  # trailing underscore: do not shadow the builtin IndexError
    exit_code = 6


class SpaceMismatchError(IndexError_):
    """Vectors of two embedding spaces (models) would be mixed: their distances mean nothing."""

    def __init__(self, expected: str, got: str, holder: str = "index"):
        super().__init__(
            f"embedding space mismatch: {holder} holds {expected}, got {got}; to switch models, "
            "run `facesift reembed` as an administrator (re-analyses every image into the new "
            "space, then switches), or configure the models the gallery was built with"
        )
        self.expected, self.got = expected, got


class AccessError(FaceSiftError):
    exit_code = 7


class AuthenticationError(AccessError):
    pass


class PermissionDenied(AccessError):
    def __init__(self, actor: str, role: object, action: object, allowed: Sequence[str]):
        who = ", ".join(sorted(allowed)) if allowed else "no role (not permitted to anyone)"
        role_name, action_name = getattr(role, "value", role), getattr(action, "value", action)
        super().__init__(
            f"operator {actor!r} ({role_name}) may not {action_name}; allowed for: {who}"
        )
        self.actor, self.role, self.action = actor, role, action


class OutOfScope(AccessError):
    """The operator's search scope (``facesift user scope``) does not include this source."""


class NotShown(AccessError):
    """The operator may not see this face or image (it was never shown to them as a lead)."""


class NotSignedIn(AccessError):
    """A page for operators was asked for without a (valid) session."""


class CsrfRefused(AccessError):
    """A form came back without the token of the session that served it."""


class GalleryBusyError(FaceSiftError):
    """Another ingest or erasure is writing to this gallery; try again when it has finished."""

    exit_code = 8


class JobInterrupted(FaceSiftError):
    """The server is shutting down: the job stopped after committing what it had done."""
