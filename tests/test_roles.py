"""The role table in the README is the one services.roles generates, and each cell means what it grants."""
from pathlib import Path

import pytest

from services.roles import PERMISSIONS, ROLES, ROW_SCOPES, can, is_flagged, role_table_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_role_table() -> str:
    """Return the first table under the README's "## Roles" heading, as text."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Roles\n"):]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


ROLE_TABLE = readme_role_table()

ALL, NONE = "✓", "–"

# What each cell text means, per row: capability → held, and the row scope on requests.
CELL_MEANING = {
    "users and services": {
        ALL: {"users.manage": True, "services.manage": True},
        "services": {"users.manage": False, "services.manage": True},
        NONE: {"users.manage": False, "services.manage": False},
    },
    "beneficiaries": {
        ALL: {"beneficiaries.read": True, "beneficiaries.create": True, "beneficiaries.edit": True,
              "beneficiaries.personal": True},
        "read, no ID/mobile/email": {"beneficiaries.read": True, "beneficiaries.create": False,
                                     "beneficiaries.edit": False, "beneficiaries.personal": False},
    },
    "requests": {
        ALL: {"requests.read": True, "requests.create": True, "requests.edit": True, "scope": None},
        "assigned to them": {"requests.read": True, "requests.edit": True, "scope": "assigned"},
        "create, edit drafts": {"requests.read": True, "requests.create": True, "requests.edit": True,
                                "scope": "own_drafts_editable"},
        "read": {"requests.read": True, "requests.create": False, "requests.edit": False, "scope": None},
    },
    "visits: record": {
        ALL: {"visits.record": True},
        NONE: {"visits.record": False},
    },
    "visits: set the outcome that counts for eligibility": {
        ALL: {"visits.outcome": True},
        NONE: {"visits.outcome": False},
    },
    "evaluate, deliver, write to beneficiaries": {
        ALL: {"evaluate": True, "deliver": True, "notify": True},
        NONE: {"evaluate": False, "deliver": False, "notify": False},
    },
    "refer to the social researcher": {ALL: {"refer": True}, NONE: {"refer": False}},
    "decide": {
        "✓ (flagged)": {"decide": True, "flagged": True},
        ALL: {"decide": True, "flagged": False},
        NONE: {"decide": False, "flagged": False},
    },
    "messages: outbox, templates, resend": {
        ALL: {"notifications.read": True, "notifications.manage": True},
        "outbox": {"notifications.read": True, "notifications.manage": False},
        NONE: {"notifications.read": False, "notifications.manage": False},
    },
    "delete": {ALL: {"delete": True}, NONE: {"delete": False}},
    "export": {ALL: {"export": True}, NONE: {"export": False},
               "what it sees, no ID/mobile/email": {"export": True, "beneficiaries.personal": False}},
    "annual statistics": {ALL: {"reports.read": True}, NONE: {"reports.read": False}},
    "board mirror: run a sync": {ALL: {"sync.manage": True}, NONE: {"sync.manage": False}},
    "saved views: share with a role": {ALL: {"views.share": True}, NONE: {"views.share": False}},
    "possible duplicates: review, merge": {
        ALL: {"duplicates.review": True, "duplicates.merge": True},
        "review": {"duplicates.review": True, "duplicates.merge": False},
        NONE: {"duplicates.review": False, "duplicates.merge": False},
    },
    "import from Excel": {ALL: {"import": True}, NONE: {"import": False}},
    "inquiries, suggestions, complaints": {
        ALL: {"interactions.read": True, "interactions.create": True, "interactions.handle": True,
              "interactions.assign": True},
        "answer, close": {"interactions.read": True, "interactions.create": True, "interactions.handle": True,
                          "interactions.assign": False},
        "record": {"interactions.read": True, "interactions.create": True, "interactions.handle": False,
                   "interactions.assign": False},
        NONE: {"interactions.read": False, "interactions.create": False, "interactions.handle": False,
               "interactions.assign": False},
    },
    "satisfaction: enter a survey taken by phone or in person": {
        ALL: {"satisfaction.record": True}, NONE: {"satisfaction.record": False},
    },
    "satisfaction dashboard": {
        ALL: {"satisfaction.read": True, "satisfaction.comments": True},
        "averages, no comments": {"satisfaction.read": True, "satisfaction.comments": False},
        NONE: {"satisfaction.read": False, "satisfaction.comments": False},
    },
    "reference documents": {
        ALL: {"references.read": True, "references.manage": True},
        "read": {"references.read": True, "references.manage": False},
    },
    "personal-data incidents": {ALL: {"incidents.manage": True}, NONE: {"incidents.manage": False}},
    "personal data: a person's complete file (access)": {
        ALL: {"personal_data.access": True}, NONE: {"personal_data.access": False}},
    "personal data: retention periods, anonymising run": {
        ALL: {"retention.manage": True, "retention.run": True},
        "run": {"retention.manage": False, "retention.run": True},
        NONE: {"retention.manage": False, "retention.run": False}},
    "personal data: record of processing": {ALL: {"processing.read": True}, NONE: {"processing.read": False}},
}


def parse_table(markdown: str) -> tuple[list[str], dict[str, list[str]]]:
    """Return the role columns and {row label: cells} of a markdown table."""
    lines = [line.strip() for line in markdown.strip().splitlines()]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, rows = split[0], split[2:]
    return header[1:], {row[0]: row[1:] for row in rows}


def table_cells() -> list:
    roles, rows = parse_table(ROLE_TABLE)
    return [pytest.param(label, role, cell, id=f"{label}-{role}")
            for label, cells in rows.items() for role, cell in zip(roles, cells)]


def test_the_readme_shows_the_table_the_code_generates():
    assert role_table_markdown() == ROLE_TABLE


def test_table_columns_are_the_roles():
    roles, rows = parse_table(ROLE_TABLE)
    assert tuple(roles) == ROLES
    assert set(rows) == set(CELL_MEANING)


@pytest.mark.parametrize("label, role, cell", table_cells())
def test_permissions_agree_with_the_table_cell(label, role, cell):
    """Every cell of the table is what PERMISSIONS, ROW_SCOPES and FLAGGED grant."""
    meaning = CELL_MEANING[label].get(cell)
    assert meaning is not None, f"the test does not know what {cell!r} means in row {label!r}"
    for key, expected in meaning.items():
        if key == "scope":
            assert ROW_SCOPES.get((role, "requests")) == expected
        elif key == "flagged":
            assert is_flagged(role, "decide") is expected
        else:
            assert can(role, key) is expected, f"{role} {'lacks' if expected else 'has'} {key}"


def test_board_does_not_see_id_mobile_or_email():
    assert not can("board", "beneficiaries.personal")
    assert can("board", "beneficiaries.read")


def test_volunteer_records_visits_but_does_not_decide_eligibility():
    assert can("volunteer", "visits.record")
    for capability in ("visits.outcome", "decide", "export", "delete"):
        assert not can("volunteer", capability)


def test_only_admin_manages_users_and_deletes():
    assert [r for r in ROLES if can(r, "users.manage")] == ["admin"]
    assert [r for r in ROLES if can(r, "delete")] == ["admin"]


def test_manager_manages_services_and_decides_unflagged():
    assert can("manager", "services.manage")
    assert can("manager", "decide") and not is_flagged("manager", "decide")


def test_admin_decision_is_flagged_for_review():
    """Separation of duties: an admin may decide, but the decision is flagged."""
    assert is_flagged("admin", "decide")


def test_unknown_capability_is_an_error_not_a_silent_refusal():
    with pytest.raises(KeyError):
        can("admin", "no.such.capability")


def test_no_role_holds_nothing():
    assert not can(None, "beneficiaries.read")


def test_every_capability_names_only_known_roles():
    for capability, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), capability
