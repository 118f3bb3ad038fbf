"""Service requests: registering, editing and assigning them (through the case rules), numbering, scopes."""
from models import Service, ServiceRequest, User, db
from models.choices import CHANNELS, codes

from . import audit, concurrency, workflow
from .dates import to_local
from .errors import N_, DomainError, ValidationError
from .fairness import check_one_open_request
from .normalize import clean_text

# What a request's own fields are, to the rules table (services.workflow.WRITE_RULES).
_FIELD_OPERATIONS = {"beneficiary": "request.register", "service": "request.register", "channel": "request.register",
                     "researcher": "request.assign", "notes": "request.notes"}


def normalize_request(r: ServiceRequest) -> ServiceRequest:
    """Validate a request's own fields; raise ValidationError naming the field."""
    if r.beneficiary_id is None:
        raise ValidationError(N_("Choose the beneficiary."), field="beneficiary")
    if r.service_id is None:
        raise ValidationError(N_("Choose the service."), field="service")
    if r.channel not in codes(CHANNELS):
        raise ValidationError(N_("Choose one of the six channels of the policy."), field="channel")
    r.notes = clean_text(r.notes) or None
    check_one_open_request(r)
    return r


def create_request(r: ServiceRequest, actor) -> ServiceRequest:
    """Register a new request as a draft (the request form, the portal), numbered, in one transaction."""
    r.status = "draft"
    normalize_request(r)
    if r.researcher_id is not None:
        workflow.check("request.assign", None, actor)
        check_researcher(r.researcher_id)
    with db.atomic(), workflow.gate("request.create", None, actor):
        r.save(force_insert=True)
        assign_number(r)
    return r


def save_request(r: ServiceRequest, actor, loaded_version=None) -> list[str]:
    """Save a request's own fields as the edit form filled them, each changed field checked against its rule.

    Only the request's own fields are edited this way; everything else (answers, attestation, status,
    decision) has its own step in the case file. Returns the fields changed.
    """
    stored = ServiceRequest.get_or_none(ServiceRequest.id == r.id)
    if stored is None:
        raise concurrency.stale(r)
    normalize_request(r)
    changed = [name for name in ServiceRequest._meta.fields
               if name not in ("updated_at", "updated_by", "version")
               and r.__data__.get(name) != stored.__data__.get(name)]
    if not changed:
        return []
    for name in changed:
        if name not in _FIELD_OPERATIONS:
            raise DomainError(N_("This part of a request changes only through its own step in the case file."))
    for operation in dict.fromkeys(_FIELD_OPERATIONS[name] for name in changed):
        workflow.check(operation, stored, actor)
    if "researcher" in changed and r.researcher_id is not None:
        check_researcher(r.researcher_id)
    with db.atomic(), workflow.gate(_FIELD_OPERATIONS[changed[0]], stored, actor):
        concurrency.save_if_unchanged(r, loaded_version)
    return changed


def locked_fields(r: ServiceRequest, user) -> list[str]:
    """Return the request's own fields the user may not change now (an edit form leaves them out)."""
    return [name for name, operation in _FIELD_OPERATIONS.items() if not workflow.allowed(operation, r, user)]


def check_researcher(researcher_id) -> User:
    """Return the active researcher with this id, or raise ValidationError."""
    researcher = User.get_or_none((User.id == (researcher_id or 0)) & (User.role == "researcher") &
                                  (User.active == True))  # noqa: E712
    if researcher is None:
        raise ValidationError(N_("Choose an active researcher."), field="researcher")
    return researcher


def assign(r: ServiceRequest, researcher_id, actor) -> ServiceRequest:
    """Assign the request's researcher (the case file, a bulk action's row), audited."""
    researcher = check_researcher(researcher_id)
    with db.atomic(), workflow.gate("request.assign", r, actor):
        before = r.researcher_id
        r.researcher = researcher
        r.save()
        audit.record("update", r, changes={"researcher": [before, researcher.id]}, actor=actor.username)
    return r


def assign_number(r: ServiceRequest) -> None:
    """Give a saved request its number REQ-YYYY-000123 (year of creation, Riyadh time)."""
    if not r.number:
        year = to_local(r.created_at).year
        r.number = f"REQ-{year}-{r.id:06d}"
        ServiceRequest.update(number=r.number).where(ServiceRequest.id == r.id).execute()


def can_edit_request(request: ServiceRequest, user) -> bool:
    """Return whether the user may edit any of the request's own fields now (volunteers: drafts only)."""
    return any(workflow.allowed(operation, request, user) for operation in dict.fromkeys(_FIELD_OPERATIONS.values()))


def exportable_requests(query):
    """Leave out requests for sensitive services (e.g. care for new Muslims): they never leave row by row."""
    # An alias: the list query may already join Service, and the subquery must not bind to it.
    service = Service.alias()
    sensitive = service.select(service.id).where(service.sensitive == True)  # noqa: E712
    return query.where(ServiceRequest.service.not_in(sensitive))
