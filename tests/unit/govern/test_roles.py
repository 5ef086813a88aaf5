"""The role matrix: each role x each action is allowed or refused with a clear message."""

import pytest

from facesift.govern.roles import PERMISSIONS, Action, Actor, PermissionDenied, Role

EXPECTED_ALLOWED = {
    Role.ADMIN: {
        "source-add",
        "source-list",
        "source-edit",
        "source-retire",
        "ingest",
        "stats",
        "subject-access",
        "subject-erase",
        "subject-optout",
        "subject-request",
        "erase",
        "purge",
        "user-add",
        "user-list",
        "user-disable",
        "user-rotate-key",
        "report",
        "index-admin",
        "audit-verify",
        "cluster",
        "reembed",
        "user-scope",
        "case-close",
    },
    Role.INVESTIGATOR: {
        "search",
        "verify",
        "source-list",
        "stats",
        "cluster",
        "identity-view",
        "identity-edit",
        "duplicates",
        "case-export",  # only of a case they searched in (govern/evidence.py)
        "case-close",
    },
    Role.REVIEWER: {"review", "verify", "source-list", "stats", "identity-view", "identity-edit"},
    Role.AUDITOR: {
        "audit-show",
        "audit-verify",
        "audit-export",
        "report",
        "source-list",
        "stats",
        "case-export",
    },
    Role.PUBLIC: set(),  # the anonymous portal: nothing that needs a permission
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(role, action):
    actor = Actor(f"someone-{role.value}", role)
    if action.value in EXPECTED_ALLOWED[role]:
        actor.require(action)
    else:
        with pytest.raises(PermissionDenied, match=f"\\({role.value}\\) may not {action.value}"):
            actor.require(action)


def test_nobody_may_export_embeddings():
    assert all(Action.EXPORT_EMBEDDINGS not in allowed for allowed in PERMISSIONS.values())
    with pytest.raises(PermissionDenied, match="not permitted to anyone"):
        Actor("root", Role.ADMIN).require(Action.EXPORT_EMBEDDINGS)


def test_separation_of_duties():
    assert Action.SEARCH not in PERMISSIONS[Role.ADMIN]  # those who erase do not search
    assert Action.ERASE not in PERMISSIONS[Role.INVESTIGATOR]
    assert Action.SEARCH not in PERMISSIONS[Role.AUDITOR]
