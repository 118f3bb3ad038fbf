"""Service requests: numbering and the checks every request must pass."""
from models import Document, Service, ServiceRequest, VerificationVisit
from models.choices import CHANNELS, codes

from .dates import to_local
from .errors import N_, ValidationError
from .fairness import check_one_open_request
from .normalize import clean_text


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


def assign_number(r: ServiceRequest) -> None:
    """Give a saved request its number REQ-YYYY-000123 (year of creation, Riyadh time)."""
    if not r.number:
        year = to_local(r.created_at).year
        r.number = f"REQ-{year}-{r.id:06d}"
        ServiceRequest.update(number=r.number).where(ServiceRequest.id == r.id).execute()


def visible_requests(query, user):
    """Narrow a request query to the rows the user's role sees (roles.ROW_SCOPES)."""
    if user.role == "researcher":
        return query.where(ServiceRequest.researcher == user.id)
    if user.role == "volunteer":
        return query.where(ServiceRequest.created_by == user.username)
    return query


def can_edit_request(request: ServiceRequest, user) -> bool:
    """Return whether the user may edit the request's own fields (volunteers: drafts only)."""
    if user.role == "volunteer":
        return request.status == "draft"
    return True


def visible_visits(query, user):
    """Narrow a visit query: researchers see visits of their requests and their own, volunteers what they recorded."""
    if user.role == "researcher":
        mine = ServiceRequest.select(ServiceRequest.id).where(ServiceRequest.researcher == user.id)
        return query.where(VerificationVisit.request.in_(mine) | (VerificationVisit.performed_by == user.id))
    if user.role == "volunteer":
        return query.where(VerificationVisit.created_by == user.username)
    return query


def visible_documents(query, user):
    """Narrow a document query: a document follows its request's scope.

    Documents filed on the beneficiary (no request) are seen by every role holding
    documents.read, except volunteers, who see only the ones they uploaded.
    """
    if user.role not in ("researcher", "volunteer"):
        return query
    mine = visible_requests(ServiceRequest.select(ServiceRequest.id), user)
    on_beneficiary = Document.request.is_null(True)
    if user.role == "volunteer":
        on_beneficiary &= Document.created_by == user.username
    return query.where(Document.request.in_(mine) | on_beneficiary)


def exportable_requests(query):
    """Leave out requests for sensitive services (e.g. care for new Muslims): they never leave row by row."""
    # An alias: the list query may already join Service, and the subquery must not bind to it.
    service = Service.alias()
    sensitive = service.select(service.id).where(service.sensitive == True)  # noqa: E712
    return query.where(ServiceRequest.service.not_in(sensitive))
