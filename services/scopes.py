"""Which rows each role sees (roles.ROW_SCOPES): the narrowing every list, export, job and timeline applies.

Plain query filters over the models, with no rule of their own beyond the scope: the services and screens
that list requests, visits, documents or messages all narrow through here.
"""
from models import Document, Notification, ServiceRequest, VerificationVisit


def visible_requests(query, user):
    """Narrow a request query to the rows the user's role sees (roles.ROW_SCOPES)."""
    if user.role == "researcher":
        return query.where(ServiceRequest.researcher == user.id)
    if user.role == "volunteer":
        return query.where(ServiceRequest.created_by == user.username)
    return query


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


def visible_notifications(query, user):
    """Narrow a notification query like requests: a researcher sees messages of the requests assigned to them."""
    if user.role == "researcher":
        mine = ServiceRequest.select(ServiceRequest.id).where(ServiceRequest.researcher == user.id)
        return query.where(Notification.request.in_(mine) | Notification.request.is_null())
    return query
