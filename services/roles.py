"""The role table: who may see and change what. The README's table is generated from it (role_table_markdown)."""
from dataclasses import dataclass, field

ROLES = ("admin", "manager", "researcher", "volunteer", "board")
STAFF = frozenset({"admin", "manager", "researcher", "volunteer"})

# Capability → roles that hold it. Scopes narrower than "all rows" are in ROW_SCOPES.
PERMISSIONS: dict[str, frozenset[str]] = {
    "users.manage": frozenset({"admin"}),
    "services.read": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "services.manage": frozenset({"admin", "manager"}),
    "beneficiaries.read": frozenset(ROLES),
    "beneficiaries.create": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "beneficiaries.edit": frozenset({"admin", "manager", "researcher", "volunteer"}),
    # ID number, mobile and email: every role but the board.
    "beneficiaries.personal": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "requests.read": frozenset(ROLES),
    "requests.create": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "requests.edit": frozenset({"admin", "manager", "researcher", "volunteer"}),
    # Choosing the researcher of a request: staff above volunteers (services.workflow's rules table).
    "requests.assign": frozenset({"admin", "manager", "researcher"}),
    "visits.read": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "visits.record": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "visits.outcome": frozenset({"admin", "manager", "researcher"}),
    "documents.read": frozenset({"admin", "manager", "researcher", "volunteer"}),
    # Checking a document against the original is part of the administrative review (P6.5).
    "documents.verify": frozenset({"admin", "manager", "researcher"}),
    # Criteria met / not met and the recommendation (P6.3).
    "evaluate": frozenset({"admin", "manager", "researcher"}),
    "decide": frozenset({"admin", "manager"}),
    # Recording what was handed over (P5.7) and writing to a beneficiary by hand (P6.4).
    "deliver": frozenset({"admin", "manager", "researcher"}),
    "notify": frozenset({"admin", "manager", "researcher"}),
    # Any staff member refers a beneficiary to the social researcher (P5.3).
    "refer": frozenset({"admin", "manager", "researcher", "volunteer"}),
    # The outbox of messages to beneficiaries (P6.4); templates and resending are the managers'.
    "notifications.read": frozenset({"admin", "manager", "researcher"}),
    "notifications.manage": frozenset({"admin", "manager"}),
    "delete": frozenset({"admin"}),
    # The board exports what it sees: never an ID, mobile or email column (models/personal_data.py).
    "export": frozenset({"admin", "manager", "board"}),
    "audit.read": frozenset({"admin", "manager"}),
    # Everyone saves private list views; sharing one with a whole role is a manager's call.
    "views.share": frozenset({"admin", "manager"}),
    # Running the board mirror (Google Sheet / board.xlsx) and seeing its last runs.
    "sync.manage": frozenset({"admin", "manager"}),
    # The annual statistics are aggregate numbers, so the board reads them too.
    "reports.read": frozenset({"admin", "manager", "board"}),
    # Possible duplicates (P6.6): researchers review (not a duplicate, shared mobile); merging
    # moves a whole file onto another and deletes one, so only managers and admins do it.
    "duplicates.review": frozenset({"admin", "manager", "researcher"}),
    "duplicates.merge": frozenset({"admin", "manager"}),
    # Importing existing records from Excel or CSV, and the nationality names it reads them with.
    "import": frozenset({"admin", "manager"}),
    # Inquiries, suggestions and complaints (P2.3, P2.7): every staff member records one from any channel;
    # researchers and managers answer and close; managers assign and watch the open and overdue ones.
    "interactions.read": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "interactions.create": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "interactions.handle": frozenset({"admin", "manager", "researcher"}),
    "interactions.assign": frozenset({"admin", "manager"}),
    # Satisfaction (P2.5): any staff member enters a survey taken by phone or in person; the dashboard is
    # aggregate, so the board reads it, but the beneficiaries' comments are personal.
    "satisfaction.record": frozenset({"admin", "manager", "researcher", "volunteer"}),
    "satisfaction.read": frozenset({"admin", "manager", "board"}),
    "satisfaction.comments": frozenset({"admin", "manager"}),
    # The association's reference documents (P4): at hand for everyone, uploaded by managers.
    "references.read": frozenset(ROLES),
    "references.manage": frozenset({"admin", "manager"}),
    # The register of personal-data incidents (PDPL: the authority is told within 72 hours).
    "incidents.manage": frozenset({"admin", "manager"}),
    # A beneficiary's complete file as a ZIP (PDPL right of access): every category, sensitive ones too.
    "personal_data.access": frozenset({"admin", "manager"}),
    # Retention (PDPL): the periods are policy, an admin's; running the irreversible erasure is a manager's too.
    "retention.manage": frozenset({"admin"}),
    "retention.run": frozenset({"admin", "manager"}),
    # The record of processing (what personal data is held, why, who sees it, where it goes, how long).
    "processing.read": frozenset({"admin", "manager"}),
}

# Rows a role sees of a table when it does not see them all:
#   researcher: requests (and their visits and documents) assigned to them;
#   volunteer: requests they registered, and may edit only while a draft.
ROW_SCOPES = {
    ("researcher", "requests"): "assigned",
    ("volunteer", "requests"): "own_drafts_editable",
    # Interactions: a researcher sees those assigned to them, unassigned ones and those they recorded;
    # a volunteer those they recorded.
    ("researcher", "interactions"): "assigned_or_unassigned",
    ("volunteer", "interactions"): "own",
}

# Admin decisions are allowed but flagged for review (separation of duties).
FLAGGED = {("admin", "decide")}

# The README's role table, one row per line: its capabilities, and what a cell says when a role holds only
# some of them (a row's own scope, ROW_SCOPES, comes first). Holding all of them is ✓ (flagged: "✓ (flagged)"),
# none –. The cells are computed from PERMISSIONS, so the README cannot drift from it (tests/test_roles.py).
@dataclass(frozen=True)
class TableRow:
    label: str
    capabilities: tuple[str, ...]
    partial: dict[frozenset[str], str] = field(default_factory=dict)
    scope_table: str | None = None
    scopes: dict[str, str] = field(default_factory=dict)


def _some(*capabilities: str) -> frozenset[str]:
    return frozenset(capabilities)


ROLE_TABLE: tuple[TableRow, ...] = (
    TableRow("users and services", ("users.manage", "services.manage"), {_some("services.manage"): "services"}),
    TableRow("beneficiaries", ("beneficiaries.read", "beneficiaries.create", "beneficiaries.edit",
                               "beneficiaries.personal"),
             {_some("beneficiaries.read"): "read, no ID/mobile/email"}),
    TableRow("requests", ("requests.read", "requests.create", "requests.edit"), {_some("requests.read"): "read"},
             scope_table="requests",
             scopes={"assigned": "assigned to them", "own_drafts_editable": "create, edit drafts"}),
    TableRow("visits: record", ("visits.record",)),
    TableRow("visits: set the outcome that counts for eligibility", ("visits.outcome",)),
    TableRow("evaluate, deliver, write to beneficiaries", ("evaluate", "deliver", "notify")),
    TableRow("refer to the social researcher", ("refer",)),
    TableRow("decide", ("decide",)),
    TableRow("messages: outbox, templates, resend", ("notifications.read", "notifications.manage"),
             {_some("notifications.read"): "outbox"}),
    TableRow("delete", ("delete",)),
    # What an export holds follows what the role sees: without personal columns, none are exported.
    TableRow("export", ("export", "beneficiaries.personal"),
             {_some("export"): "what it sees, no ID/mobile/email", _some("beneficiaries.personal"): "–"}),
    TableRow("annual statistics", ("reports.read",)),
    TableRow("board mirror: run a sync", ("sync.manage",)),
    TableRow("saved views: share with a role", ("views.share",)),
    TableRow("possible duplicates: review, merge", ("duplicates.review", "duplicates.merge"),
             {_some("duplicates.review"): "review"}),
    TableRow("import from Excel", ("import",)),
    TableRow("inquiries, suggestions, complaints", ("interactions.read", "interactions.create",
                                                    "interactions.handle", "interactions.assign"),
             {_some("interactions.read", "interactions.create", "interactions.handle"): "answer, close",
              _some("interactions.read", "interactions.create"): "record"}),
    TableRow("satisfaction: enter a survey taken by phone or in person", ("satisfaction.record",)),
    TableRow("satisfaction dashboard", ("satisfaction.read", "satisfaction.comments"),
             {_some("satisfaction.read"): "averages, no comments"}),
    TableRow("reference documents", ("references.read", "references.manage"), {_some("references.read"): "read"}),
    TableRow("personal-data incidents", ("incidents.manage",)),
    TableRow("personal data: a person's complete file (access)", ("personal_data.access",)),
    TableRow("personal data: retention periods, anonymising run", ("retention.manage", "retention.run"),
             {_some("retention.run"): "run"}),
    TableRow("personal data: record of processing", ("processing.read",)),
)


def role_cell(row: TableRow, role: str) -> str:
    """Return what the README's role table says for one role in one row (KeyError: a combination without a name)."""
    if row.scope_table and (role, row.scope_table) in ROW_SCOPES:
        return row.scopes[ROW_SCOPES[role, row.scope_table]]
    held = frozenset(c for c in row.capabilities if role in PERMISSIONS[c])
    if held == frozenset(row.capabilities):
        return "✓ (flagged)" if any((role, c) in FLAGGED for c in held) else "✓"
    if not held:
        return "–"
    return row.partial[held]


def role_table_markdown() -> str:
    """Return the role table as the README shows it (a test keeps the two equal)."""
    lines = ["| | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    lines += [f"| {row.label} | " + " | ".join(role_cell(row, role) for role in ROLES) + " |" for row in ROLE_TABLE]
    return "\n".join(lines) + "\n"


def can(role: str | None, capability: str) -> bool:
    """Return whether the role holds the capability."""
    if capability not in PERMISSIONS:
        raise KeyError(f"unknown capability {capability!r}")
    return role in PERMISSIONS[capability]


def is_flagged(role: str, capability: str) -> bool:
    """Return whether the role's use of the capability is flagged for review."""
    return (role, capability) in FLAGGED
