"""A beneficiary's complete file for the PDPL right of access: one ZIP with a readable summary, the data, the files.

The ZIP holds
  summary.html  everything held about the person, in Arabic, right to left, one self-contained page
                (styles inside, no link outside it), dates Hijri and Gregorian;
  data.json     the same data, machine readable (UTF-8, codes rather than labels, times ISO 8601 UTC);
  documents/    the files the person or staff uploaded, under safe names ("<id>-<name>.<ext>").
A document whose file is gone from the disk is listed as missing rather than failing the export, and
one whose bytes no longer match the recorded SHA-256 is included and flagged. The files are copied in
chunks into a file object the caller provides (a spooled temporary file for a download), so a large
file never sits in memory whole. Each export is one audit row with the counts.

Staff identities are left out: the file is the person's data, not the association's staff records.
Here the data is gathered and the archive written; the summary page is rendered by the screen that asks for
the file (admin_views/access.py), with the labels and vocabularies below.
"""
import datetime
import decimal
import hashlib
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from models import (
    Beneficiary,
    Consent,
    CriterionAssessment,
    Delivery,
    Document,
    DocumentType,
    EvaluationCriterion,
    HouseholdMember,
    IntakeAnswer,
    IntakeQuestion,
    Interaction,
    InteractionKind,
    MethodWaiver,
    Notification,
    ProposedChange,
    Recommendation,
    Referral,
    RequestTransition,
    SatisfactionSurvey,
    Service,
    ServiceRequest,
    User,
    VerificationVisit,
    utcnow,
)
from models import choices as vocabularies
from models.consent import CONSENT_BASES, CONSENT_CHANNELS, CONSENT_PURPOSES
from models.evaluation import RECOMMENDATIONS
from models.interaction import INTERACTION_CATEGORIES, INTERACTION_DIRECTIONS, INTERACTION_STATUSES
from models.notification import NOTIFICATION_CHANNELS, NOTIFICATION_KINDS, NOTIFICATION_STATUSES
from models.proposed_change import PROPOSED_CHANGE_STATUSES
from models.referral import REFERRAL_STATUSES
from models.survey import SURVEY_CHANNELS

from . import audit, notifications
from .dates import RIYADH
from .documents import display_name, stored_path
from .errors import N_, PermissionDenied, ValidationError
from .roles import can

CAPABILITY = "personal_data.access"
FORMAT = "mustafeed-access/1"
# The summary is the association's answer to the person, in Arabic whatever the staff member's language.
SUMMARY_LANGUAGE = "ar"
_CHUNK = 1024 * 1024

# The beneficiary's fields as the summary lists them (the same labels as the beneficiary screen).
BENEFICIARY_FIELDS = {
    "reference": N_("Reference"), "full_name": N_("Full name"), "latin_name": N_("Name in Latin letters"),
    "id_type": N_("ID type"), "id_number": N_("ID number"), "nationality": N_("Nationality"),
    "language": N_("Language"), "gender": N_("Gender"), "birth_date": N_("Birth date"), "mobile": N_("Mobile"),
    "email": N_("Email"), "city": N_("City"), "district": N_("District"), "category": N_("Category"),
    "family_size": N_("Family size"), "consent_at": N_("Consent given at"), "notes": N_("Notes"),
    "created_at": N_("Registered at"), "updated_at": N_("Last changed at"),
}
# Closed vocabularies the summary shows as labels (data.json keeps the codes).
VOCABULARIES = {
    **{name: value for name, value in vars(vocabularies).items() if name.isupper() and isinstance(value, list)},
    "CONSENT_PURPOSES": CONSENT_PURPOSES, "CONSENT_CHANNELS": CONSENT_CHANNELS, "CONSENT_BASES": CONSENT_BASES,
    "RECOMMENDATIONS": RECOMMENDATIONS, "REFERRAL_STATUSES": REFERRAL_STATUSES,
    "NOTIFICATION_KINDS": NOTIFICATION_KINDS, "NOTIFICATION_CHANNELS": NOTIFICATION_CHANNELS,
    "NOTIFICATION_STATUSES": NOTIFICATION_STATUSES, "INTERACTION_DIRECTIONS": INTERACTION_DIRECTIONS,
    "INTERACTION_STATUSES": INTERACTION_STATUSES, "INTERACTION_CATEGORIES": INTERACTION_CATEGORIES,
    "SURVEY_CHANNELS": SURVEY_CHANNELS, "PROPOSED_CHANGE_STATUSES": PROPOSED_CHANGE_STATUSES,
}
# The lists of data.json, in the order the summary shows them; the counts of the audit row.
SECTIONS = ("household", "consents", "requests", "decisions", "intake_answers", "visits", "evaluations",
            "recommendations", "waivers", "deliveries", "referrals", "messages", "interactions", "surveys",
            "proposed_changes", "documents")


def _username(actor) -> str | None:
    return actor.username if isinstance(actor, User) else actor


def _row(instance, names) -> dict:
    return {name: getattr(instance, name) for name in names}


# ---- collecting ----------------------------------------------------------------------------------
def collect(beneficiary: Beneficiary) -> dict:
    """Return everything held about the beneficiary as plain data: codes, dates and times (UTC), texts."""
    b = beneficiary
    requests = list(ServiceRequest.select(ServiceRequest, Service).join(Service)
                    .where(ServiceRequest.beneficiary == b.id).order_by(ServiceRequest.id))
    ids = [r.id for r in requests]
    number = {r.id: r.number for r in requests}

    def of(model, *joined):
        """Rows of a table hanging off the beneficiary's requests, oldest first."""
        query = model.select(model, *joined)
        for other in joined:
            query = query.switch(model).join(other)
        return query.where(model.request.in_(ids)).order_by(model.id) if ids else []

    data = {
        "format": FORMAT,
        "beneficiary": _row(b, BENEFICIARY_FIELDS),
        "household": [_row(m, ("name", "relation", "id_type", "id_number", "birth_date"))
                      for m in HouseholdMember.select().where(HouseholdMember.beneficiary == b.id)
                      .order_by(HouseholdMember.id)],
        "consents": [_row(c, ("purpose", "given", "at", "channel", "basis", "source", "note"))
                     for c in Consent.select().where(Consent.beneficiary == b.id).order_by(Consent.at, Consent.id)],
        "requests": [],
        "decisions": [],
    }
    history: dict[int, list] = {}
    for t in of(RequestTransition):
        history.setdefault(t.request_id, []).append(
            {"from_status": t.from_status, "to_status": t.to_status, "at": t.at, "note": t.note})
    for r in requests:
        data["requests"].append({
            "number": r.number, "service": r.service.name_ar, "service_en": r.service.name_en,
            "channel": r.channel, "status": r.status, "created_at": r.created_at, "submitted_at": r.submitted_at,
            "decision_due": r.decision_due, "attestation_method": r.attestation_method,
            "attestation_version": r.attestation_version, "attested_at": r.attested_at, "decision": r.decision,
            "decision_reason": r.decision_reason, "decided_at": r.decided_at, "notes": r.notes,
            "history": history.get(r.id, [])})
        if r.decision:
            data["decisions"].append({"request": r.number, "service": r.service.name_ar, "decision": r.decision,
                                      "reason": r.decision_reason, "decided_at": r.decided_at})
    data["intake_answers"] = [
        {"request": number[a.request_id], "question": a.question.label_ar, "question_en": a.question.label_en,
         "value": a.value, "sensitive": a.question.sensitive} for a in of(IntakeAnswer, IntakeQuestion)]
    data["visits"] = [{"request": number[v.request_id], **_row(v, ("method", "scheduled_at", "performed_at",
                                                                    "outcome", "findings"))}
                      for v in of(VerificationVisit)]
    data["evaluations"] = [{"request": number[a.request_id], "criterion": a.criterion.text_ar,
                            "criterion_en": a.criterion.text_en, **_row(a, ("met", "note", "assessed_at"))}
                           for a in of(CriterionAssessment, EvaluationCriterion)]
    data["recommendations"] = [{"request": number[x.request_id], **_row(x, ("recommendation", "note", "given_at"))}
                               for x in of(Recommendation)]
    data["waivers"] = [{"request": number[w.request_id], **_row(w, ("method", "reason", "waived_at"))}
                       for w in of(MethodWaiver)]
    data["deliveries"] = [{"request": number[d.request_id], **_row(d, ("description", "quantity", "amount",
                                                                        "delivered_at"))}
                          for d in of(Delivery)]
    data["referrals"] = [{"request": number.get(x.request_id), "referred_at": x.created_at,
                          **_row(x, ("reason", "status", "answer", "answered_at"))}
                         for x in Referral.select().where(Referral.beneficiary == b.id).order_by(Referral.id)]
    data["messages"] = [{"request": number.get(n.request_id), **_row(n, (
        "kind", "channel", "language", "recipient", "subject", "body", "status", "created_at", "sent_at"))}
        for n in Notification.select().where(Notification.beneficiary == b.id).order_by(Notification.id)]
    data["interactions"] = [{"number": i.number, "kind": i.kind.name_ar, "kind_code": i.kind.code,
                             "request": number.get(i.request_id), **_row(i, (
                                 "channel", "direction", "subject", "text", "language", "received_at", "due_date",
                                 "response", "responded_at", "resolution", "category", "status", "closed_at"))}
                            for i in Interaction.select(Interaction, InteractionKind).join(InteractionKind)
                            .where(Interaction.beneficiary == b.id).order_by(Interaction.id)]
    data["surveys"] = [{"request": number.get(s.request_id), **_row(s, (
        "overall", "speed", "courtesy", "clarity", "would_recommend", "comment", "channel", "submitted_at"))}
        for s in SatisfactionSurvey.select().where(SatisfactionSurvey.beneficiary == b.id)
        .order_by(SatisfactionSurvey.id)]
    data["proposed_changes"] = [{"proposed_at": p.created_at, **_row(p, (
        "field", "recorded_value", "proposed_value", "status", "decided_at"))}
        for p in ProposedChange.select().where(ProposedChange.beneficiary == b.id).order_by(ProposedChange.id)]
    documents = (Document.select(Document, DocumentType).join(DocumentType)
                 .where((Document.beneficiary == b.id) | (Document.request.in_(ids or [0])))
                 .order_by(Document.id))
    data["documents"] = [{"id": d.id, "type": d.document_type.name_ar, "type_en": d.document_type.name_en,
                          "request": number.get(d.request_id), "uploaded_at": d.created_at,
                          "stored_name": d.stored_name,
                          **_row(d, ("original_name", "content_type", "size", "sha256", "verified_at"))}
                         for d in documents]
    return data


def counts(data: dict) -> dict[str, int]:
    """Return how many rows each list of the file holds."""
    return {name: len(data[name]) for name in SECTIONS}


# ---- writing ---------------------------------------------------------------------------------------
def safe_name(document_id: int, original_name: str | None, stored_name: str) -> str:
    """Return a document's path in the ZIP: its id, then its name without folders or odd characters, then its type."""
    extension = Path(stored_name or "").suffix.lower().lstrip(".") or "bin"
    stem = re.sub(r"[^\w.\-]+", "_", display_name(original_name)).strip("._-")[:80] or "document"
    if not stem.lower().endswith("." + extension):
        stem = f"{stem}.{extension}"
    return f"documents/{document_id}-{stem}"


def _copy_document(archive: zipfile.ZipFile, document: dict, upload_dir) -> str:
    """Copy one document's file into the archive in chunks; return included, altered (SHA-256 differs) or missing."""
    try:
        path = stored_path(Document(stored_name=document["stored_name"]), upload_dir)
        source = path.open("rb")
    except (ValidationError, OSError):
        return "missing"
    digest = hashlib.sha256()
    with source:
        info = zipfile.ZipInfo(document["file"], date_time=_zip_time())
        # PDF, JPEG and PNG are compressed already: deflating them again costs time and saves nothing.
        info.compress_type = zipfile.ZIP_STORED
        with archive.open(info, "w", force_zip64=path.stat().st_size >= 2 ** 31) as target:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                target.write(chunk)
    return "included" if digest.hexdigest() == document["sha256"] else "altered"


def _zip_time() -> tuple:
    return datetime.datetime.now(RIYADH).timetuple()[:6]


def _plain(value):
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=datetime.UTC).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: dict) -> str:
    """Return the file's data as JSON: UTF-8 text as is, times in ISO 8601 UTC, dates ISO, amounts as text."""
    public = {**data, "documents": [{k: v for k, v in d.items() if k != "stored_name"} for d in data["documents"]]}
    return json.dumps(public, ensure_ascii=False, indent=2, default=_plain)


def write_zip(beneficiary: Beneficiary, upload_dir, fileobj, actor,
              render_summary: Callable[[dict], str]) -> dict[str, int]:
    """Write the beneficiary's complete file as a ZIP into fileobj, audit it, and return the counts.

    render_summary turns the collected data into summary.html (the screen's page, admin_views/access.py).
    """
    if isinstance(actor, User) and not can(actor.role, CAPABILITY):
        raise PermissionDenied(N_("Your role cannot produce a person's complete file."))
    data = collect(beneficiary)
    data["generated_at"] = utcnow()
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # The files first, so the summary and data.json say exactly what the archive holds.
        for document in data["documents"]:
            document["file"] = safe_name(document["id"], document["original_name"], document["stored_name"])
            document["status"] = _copy_document(archive, document, upload_dir)
            if document["status"] == "missing":
                document["file"] = None
        data["counts"] = counts(data)
        archive.writestr(_entry("summary.html"), render_summary(data))
        archive.writestr(_entry("data.json"), to_json(data))
    missing = [d["id"] for d in data["documents"] if d["status"] == "missing"]
    altered = [d["id"] for d in data["documents"] if d["status"] == "altered"]
    audit.record("access_export", beneficiary, actor=_username(actor), details={
        "format": FORMAT, "counts": data["counts"], "missing_documents": missing, "altered_documents": altered})
    return data["counts"]


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_zip_time())
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def download_name(beneficiary: Beneficiary) -> str:
    """Return the ZIP's file name: the reference and the day (Riyadh), never the person's name."""
    day = datetime.datetime.now(RIYADH).date().isoformat()
    return f"{beneficiary.reference or beneficiary.id}-personal-data-{day}.zip"


def association_name() -> str:
    """Return the association's name the summary is signed with (the outbox's letterhead setting)."""
    settings = notifications.current_settings()
    return settings.get("ASSOCIATION_NAME") or notifications.DEFAULT_ASSOCIATION_NAME
