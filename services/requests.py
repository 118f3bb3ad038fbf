"""Service requests: numbering and the checks every request must pass."""
from models import ServiceRequest

from .dates import to_local
from .errors import N_, ValidationError
from .normalize import clean_text
from models.choices import CHANNELS, codes


def normalize_request(r: ServiceRequest) -> ServiceRequest:
    """Validate a request's own fields; raise ValidationError naming the field."""
    if r.beneficiary_id is None:
        raise ValidationError(N_("Choose the beneficiary."), field="beneficiary")
    if r.service_id is None:
        raise ValidationError(N_("Choose the service."), field="service")
    if r.channel not in codes(CHANNELS):
        raise ValidationError(N_("Choose one of the six channels of the policy."), field="channel")
    r.notes = clean_text(r.notes) or None
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
