"""Rows that are sensitive by what they belong to (models/personal_data.py ROW_MARKERS), per role.

* A request of a sensitive service (``Service.sensitive``, e.g. care for new Muslims) reveals
  religion: category "religion".
* An answer to a sensitive intake question (``IntakeQuestion.sensitive``, e.g. income) is category
  "sensitive_answers"; on a request of a sensitive service every answer is also "religion" data.

What a role without "religion" sees of a sensitive-service request: none, except the requests it
registered itself. A volunteer who took such a request knows it exists and must be able to finish
the draft (answers, attestation, submission), so it stays in their list with its number, service
and status; its intake answers, visit findings, notes, referral reasons and decision reason stay
hidden from them like on any request (their own categories), and they may still type an answer
they collect without reading back a stored one (seeing is not writing). The board registers
nothing, so it sees none of these requests, on any screen.
"""
from models import Service, ServiceRequest
from models.personal_data import hidden_row_markers


def hides_sensitive_requests(role: str | None) -> bool:
    """Return whether the role may not see requests of sensitive services (beyond its own)."""
    return "service.sensitive" in hidden_row_markers("ServiceRequest", role)


def visible_sensitive_requests(query, user):
    """Narrow a request query: a role without "religion" keeps no sensitive-service request but its own."""
    if not hides_sensitive_requests(getattr(user, "role", None)):
        return query
    # An alias: the list query may already join Service, and the subquery must not bind to it.
    service = Service.alias()
    sensitive = service.select(service.id).where(service.sensitive == True)  # noqa: E712
    return query.where(ServiceRequest.service.not_in(sensitive) | (ServiceRequest.created_by == user.username))


def may_see_request(request: ServiceRequest, user) -> bool:
    """Return whether the user may see that this request exists (same rule as visible_sensitive_requests)."""
    if not hides_sensitive_requests(getattr(user, "role", None)) or not request.service.sensitive:
        return True
    return request.created_by == user.username


def hidden_answers(request: ServiceRequest, questions, role: str | None) -> set[int]:
    """Return the ids of the questions whose answers on this request the role may not see."""
    if request.service.sensitive and hides_sensitive_requests(role):
        return {q.id for q in questions}
    if "question.sensitive" in hidden_row_markers("IntakeAnswer", role):
        return {q.id for q in questions if q.sensitive}
    return set()
