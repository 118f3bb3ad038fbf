"""The public portal (P2.4, P3 "website"): a request typed by the beneficiary, and tracking it without disclosure.

A request from the portal is one transaction: the person (registered, or matched by ID type and
number and never shown), the request on channel `website`, its answers and documents, the
attestation (P5.4, method `portal`, with time and IP) and the submission with its receipt message.
What the person typed that differs from a matched record becomes proposed changes for staff
(services.proposed_changes); the portal never overwrites a record.

**The portal's rule (issue 15): no reply of a public page differs according to what is on file.**
Whoever types an ID number must not learn whether that person is registered or applied (for a
religion-related service, that alone is sensitive). So a submission has one reply whatever is found:
a new person, a known one, a known one without a mobile, and a known one who already has an open
request for the service. The last makes no second request: what was typed becomes a portal change
on the open request (proposed changes, a "sent again" row, the documents filed on the person's
file) for staff to review. The request number and decision date never appear on the page; they go
out as the receipt message to the contact details on file.
"""
import datetime
import re
from dataclasses import dataclass, field

from peewee import IntegrityError

from models import (
    Beneficiary,
    DocumentType,
    IntakeQuestion,
    Service,
    ServiceDocumentType,
    ServiceRequest,
    current_actor,
    db,
)
from models.choices import ID_TYPES, LANGUAGES, codes

from . import audit, beneficiaries, consent, documents, eligibility, fairness, proposed_changes, requests
from .errors import N_, ValidationError
from .normalize import clean_number, clean_text, to_ascii_digits, without_format_characters
from .validators import validate_id_number

# Who acts for the person on the portal: no account, so rows are created by this name, which no staff
# username can take (usernames are letters, digits, dots, dashes and underscores).
PORTAL_USERNAME = "(portal)"


@dataclass(frozen=True)
class PortalApplicant:
    """The applicant on the portal: makes the intake step draft → submitted that the transition table gives intake roles."""

    username: str = PORTAL_USERNAME
    role: str = "volunteer"
    id: None = None

    def __str__(self):
        return self.username


APPLICANT = PortalApplicant()

# What the portal's request form asks about the person (the ID type and number find an existing record).
PERSON_FIELDS = ("full_name", "latin_name", "id_type", "id_number", "nationality", "gender", "birth_date", "mobile",
                 "email", "city", "family_size")


@dataclass
class Upload:
    """One file sent with the request, for one of the service's required document types."""

    document_type_id: int
    data: bytes
    filename: str


@dataclass
class Application:
    """Everything the portal's request form sent."""

    service_id: int | None
    person: dict
    answers: dict = field(default_factory=dict)
    uploads: list = field(default_factory=list)
    attested: bool = False
    language: str = "ar"


# ---- what the portal offers ------------------------------------------------------------------------
def offered_services() -> list[Service]:
    """Return the active services, in the order an administrator created them."""
    return list(Service.select().where(Service.active == True).order_by(Service.id))  # noqa: E712


def offered_service(service_id) -> Service | None:
    """Return an active service by id, or None."""
    try:
        return Service.get_or_none((Service.id == int(service_id)) & (Service.active == True))  # noqa: E712
    except (TypeError, ValueError):
        return None


def service_questions(service: Service) -> list[IntakeQuestion]:
    """Return the service's active intake questions (P6.1), in order."""
    return list(IntakeQuestion.select().where((IntakeQuestion.service == service.id)
                                              & (IntakeQuestion.active == True))  # noqa: E712
                .order_by(IntakeQuestion.position, IntakeQuestion.id))


def service_documents(service: Service) -> list[DocumentType]:
    """Return the document types the service requires (P6.2)."""
    return list(DocumentType.select().join(ServiceDocumentType)
                .where((ServiceDocumentType.service == service.id) & (DocumentType.active == True))  # noqa: E712
                .order_by(DocumentType.id))


# ---- checks before anything is written -------------------------------------------------------------
def _typed_person(data: dict, language: str) -> tuple[Beneficiary, Beneficiary | None]:
    """Return the typed person validated like the panel does, and the record with the same ID, if any."""
    language = language if language in codes(LANGUAGES) else "ar"
    typed = Beneficiary(**{name: data.get(name) for name in PERSON_FIELDS}, language=language)
    if typed.id_type not in codes(ID_TYPES):
        raise ValidationError(N_("The ID type is required."), field="id_type")
    typed.id_number = validate_id_number(typed.id_type, typed.id_number)
    record = Beneficiary.get_or_none((Beneficiary.id_type == typed.id_type) & (Beneficiary.id_number == typed.id_number))
    # The record's id only lets the duplicate check pass: the typed person is never saved over it.
    typed.id = record.id if record is not None else None
    beneficiaries.normalize_beneficiary(typed)
    if not typed.gender:
        raise ValidationError(N_("Choose your gender."), field="gender")
    if not typed.mobile:
        raise ValidationError(N_("Write your mobile number."), field="mobile")
    typed.id = None
    return typed, record


def clean_answers(service: Service, answers: dict, language: str = "ar") -> dict[int, str]:
    """Return the answers to the service's questions checked; a required one left empty is refused."""
    cleaned = {}
    for question in service_questions(service):
        label = question.label_ar if language == "ar" else question.label_en
        try:
            value = eligibility.clean_answer(question, answers.get(question.id))
        except ValidationError as err:
            raise ValidationError(err.message, field=f"q{question.id}", question=label) from None
        if question.required and not value:
            raise ValidationError(N_("Answer the question “%(question)s”."), field=f"q{question.id}", question=label)
        if value:
            cleaned[question.id] = value
    return cleaned


def check_uploads(service: Service, uploads: list[Upload], max_bytes: int) -> None:
    """Refuse a file of a type the service does not ask for, or whose content is not an allowed type or too large."""
    wanted = {d.id for d in service_documents(service)}
    for upload in uploads:
        if upload.document_type_id not in wanted:
            raise ValidationError(N_("This document is not one the service asks for."), field="documents")
        try:
            documents.check_content(upload.data, max_bytes)
        except ValidationError as err:
            raise ValidationError(err.message, field=f"doc{upload.document_type_id}", **err.params) from None


# ---- the submission ----------------------------------------------------------------------------------
def submit_application(application: Application, *, upload_dir, max_bytes: int, ip: str | None = None) -> None:
    """Register or match the person; create and submit the request, or add to their open one for staff to review.

    All in one transaction (files written are removed again if it rolls back). Raises ValidationError
    naming the form field, for what was typed only: nothing on file changes what the caller is told.
    """
    service = offered_service(application.service_id)
    if service is None:
        raise ValidationError(N_("Choose one of the services offered."), field="service")
    typed, record = _typed_person(application.person, application.language)
    answers = clean_answers(service, application.answers, application.language)
    check_uploads(service, application.uploads, max_bytes)
    if not application.attested:
        raise ValidationError(N_("Tick the attestation to confirm that your data is correct."), field="attestation")
    token = current_actor.set(PORTAL_USERNAME)
    stored = []
    try:
        with db.atomic():
            beneficiary = _register_or_match(typed, record, ip)
            already = fairness.open_request(beneficiary.id, service.id) if record is not None else None
            if already is None:
                _new_request(application, beneficiary, service, typed, record, answers, stored,
                             upload_dir=upload_dir, max_bytes=max_bytes, ip=ip)
            else:
                _sent_again(application, already, typed, record, stored, upload_dir=upload_dir,
                            max_bytes=max_bytes, ip=ip)
    except Exception as err:
        for document in stored:
            documents.remove_file(document, upload_dir)
        if isinstance(err, IntegrityError):
            # Two submissions for the same new ID at the same moment: the second finds the first's row next time.
            raise ValidationError(N_("Your request could not be saved. Please send it again.")) from None
        raise
    finally:
        current_actor.reset(token)


def _new_request(application: Application, beneficiary: Beneficiary, service: Service, typed: Beneficiary,
                 record: Beneficiary | None, answers: dict, stored: list, *, upload_dir, max_bytes: int,
                 ip: str | None) -> ServiceRequest:
    request = requests.create_request(ServiceRequest(beneficiary=beneficiary, service=service, channel="website"),
                                      APPLICANT)
    audit.record("create", request, changes=audit.diff(None, audit.snapshot(request)), ip=ip)
    proposals = proposed_changes.propose(record, typed, request=request, ip=ip) if record is not None else []
    if answers:
        eligibility.save_answers(request, answers, APPLICANT)
    types = {d.id: d for d in service_documents(service)}
    for upload in application.uploads:
        stored.append(documents.store_upload(upload.data, upload.filename, types[upload.document_type_id],
                                             request=request, upload_dir=upload_dir, max_bytes=max_bytes,
                                             actor=APPLICANT))
    eligibility.take_attestation(request, "portal", APPLICANT, ip=ip)
    # A record without a mobile cannot be submitted (P5.2), and a mobile typed by someone who may not
    # be its owner is only a proposal: the request waits as a draft for staff to complete. Submitting
    # queues the receipt (number and decision date) to the contact details on file.
    submitted = eligibility.submit(request, APPLICANT) if beneficiary.mobile else None
    audit.record("portal_request", request, ip=ip, details={
        "beneficiary": "matched" if record is not None else "new", "proposed_changes": len(proposals),
        "documents": len(stored), "submitted": submitted is not None})
    return request


def _sent_again(application: Application, request: ServiceRequest, typed: Beneficiary, record: Beneficiary,
                stored: list, *, upload_dir, max_bytes: int, ip: str | None) -> None:
    """A second submission while a request for the service is open: a portal change on that request.

    Nothing of the request itself changes (its answers and checklist are the case's): the typed details
    that differ become proposed changes, the documents go on the person's file, and one "sent again" row
    lists them for staff to review.
    """
    proposals = proposed_changes.propose(record, typed, request=request, ip=ip)
    types = {d.id: d for d in service_documents(request.service)}
    for upload in application.uploads:
        stored.append(documents.store_upload(upload.data, upload.filename, types[upload.document_type_id],
                                             beneficiary=record, upload_dir=upload_dir, max_bytes=max_bytes))
    proposed_changes.sent_again(request, documents=stored, ip=ip)
    audit.record("portal_request", request, ip=ip, details={
        "beneficiary": "matched", "sent_again": True, "proposed_changes": len(proposals), "documents": len(stored),
        "submitted": False})


def _register_or_match(typed: Beneficiary, record: Beneficiary | None, ip: str | None) -> Beneficiary:
    if record is None:
        beneficiary = beneficiaries.register(typed)
        audit.record("create", beneficiary, changes=audit.diff(None, audit.snapshot(beneficiary)), ip=ip)
        consent.record(beneficiary, "registration", True, "portal", PORTAL_USERNAME)
        return beneficiary
    if not record.gender:
        # Submission needs the gender (P5.2); filling an empty one overwrites nothing.
        record.gender = typed.gender
        record.save()
        audit.record("update", record, changes={"gender": [None, typed.gender]}, ip=ip,
                     details="filled from the portal")
    return record


def record_spam(form: str, ip: str | None = None) -> None:
    """Audit a submission whose hidden honeypot field was filled (a robot); nothing else is stored."""
    audit.record("portal_spam", model="Portal", details={"form": form}, ip=ip, actor=PORTAL_USERNAME)


# ---- tracking ------------------------------------------------------------------------------------------
# Status → the next step shown to the person (the status label comes from models.choices.STATUSES).
NEXT_STEPS = {
    "draft": N_("Your request has not been submitted yet. The association will contact you to complete it."),
    "submitted": N_("Your request was received and is waiting to be reviewed. No action is needed from you now."),
    "awaiting_documents": N_("Some documents are still needed. Bring or send them to the association."),
    "under_verification": N_("Your information is being verified. A researcher may call you or arrange a visit."),
    "under_evaluation": N_("Your request is being evaluated. You will be told the decision by message."),
    "approved": N_("Your request was approved. The association will contact you to provide the service."),
    "rejected": N_("Your request was not approved. The reason was sent to you; you may contact the association "
                   "about it."),
    "delivered": N_("The service was provided. You may receive a link to rate it: your opinion helps us improve."),
    "closed": N_("Your request is closed."),
    "withdrawn": N_("Your request was withdrawn."),
}
# Statuses in which the decision due date still means something to the person.
AWAITING_DECISION = ("submitted", "awaiting_documents", "under_verification", "under_evaluation")


@dataclass(frozen=True)
class TrackResult:
    """What tracking shows: the status and the next step, never the service or personal data."""

    status: str
    next_step: str
    decision_due: datetime.date | None


def track(number: str | None, id_number: str | None, mobile: str | None, ip: str | None = None) -> TrackResult | None:
    """Return a request's status when number, ID number and the registered mobile's last 4 digits all match, else None.

    An unknown number and a wrong ID or mobile give the same None, so the answer tells nobody
    which numbers exist. Every look-up is audited with the address it came from.
    """
    number = clean_text(without_format_characters(to_ascii_digits(number or ""))).upper()
    id_digits = clean_number(id_number).upper()
    last4 = re.sub(r"\D", "", to_ascii_digits(mobile or ""))[-4:]
    result, request_id = None, None
    if number and id_digits and len(last4) == 4:
        request = (ServiceRequest.select(ServiceRequest, Beneficiary).join(Beneficiary)
                   .where(ServiceRequest.number == number).first())
        if request is not None and request.beneficiary.id_number == id_digits \
                and (request.beneficiary.mobile or "").endswith(last4):
            request_id = request.id
            due = request.decision_due if request.status in AWAITING_DECISION else None
            result = TrackResult(request.status, NEXT_STEPS.get(request.status, ""), due)
    audit.record("portal_track", model="ServiceRequest", record_id=request_id, ip=ip, actor=PORTAL_USERNAME,
                 details={"number": number[:30], "found": result is not None})
    return result
