"""Fair shares of a service (policy P6.6): one open request per service, a minimum interval between approvals."""
import datetime

from models import ServiceRequest, utcnow

from .dates import RIYADH, to_local
from .errors import N_, ValidationError
from .workflow import OPEN_STATUSES


def open_request(beneficiary_id: int, service_id: int, other_than: int | None = None) -> ServiceRequest | None:
    """Return the beneficiary's open request for the service (the first registered), or None."""
    query = ServiceRequest.select().where(
        (ServiceRequest.beneficiary == beneficiary_id) & (ServiceRequest.service == service_id)
        & ServiceRequest.status.in_(OPEN_STATUSES))
    if other_than is not None:
        query = query.where(ServiceRequest.id != other_than)
    return query.order_by(ServiceRequest.id).first()


def check_one_open_request(r: ServiceRequest) -> None:
    """Refuse a second open request of the same beneficiary for the same service, naming the first."""
    if r.status not in OPEN_STATUSES or r.beneficiary_id is None or r.service_id is None:
        return
    other = open_request(r.beneficiary_id, r.service_id, other_than=r.id)
    if other is not None:
        raise ValidationError(N_("This beneficiary already has an open request for this service: %(number)s. "
                                 "Continue that request instead of opening another."),
                              field="service", number=other.number or f"#{other.id}")


def previous_approval_within_interval(r: ServiceRequest) -> ServiceRequest | None:
    """Return the beneficiary's latest approval of the same service fewer than the service's minimum days ago.

    Days are counted in Riyadh dates up to the request's own decision (or today while it is
    undecided): with a 30-day minimum, an approval on the 1st allows the next on the 31st.
    """
    days = r.service.min_approval_interval_days
    if not days or r.beneficiary_id is None:
        return None
    reference = r.decided_at or utcnow()
    first_day = to_local(reference).date() - datetime.timedelta(days=days - 1)
    cutoff = (datetime.datetime.combine(first_day, datetime.time.min, tzinfo=RIYADH)
              .astimezone(datetime.UTC).replace(tzinfo=None))
    query = ServiceRequest.select().where(
        (ServiceRequest.beneficiary == r.beneficiary_id) & (ServiceRequest.service == r.service_id)
        & (ServiceRequest.decision == "approved") & (ServiceRequest.decided_at >= cutoff)
        & (ServiceRequest.decided_at <= reference))
    if r.id is not None:
        query = query.where(ServiceRequest.id != r.id)
    return query.order_by(ServiceRequest.decided_at.desc()).first()
