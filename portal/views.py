"""The portal's pages: thin over services.portal, services.interactions and services.surveys."""
from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, refresh

from services import interactions, surveys
from services import portal as svc
from services.countries import country_choices
from services.documents import ALLOWED_LABEL
from services.eligibility import ATTESTATION_VERSION
from services.errors import DomainError

from . import bp, portal_language, portal_languages, portal_name, post_limit, track_limit
from .forms import ContactForm, SurveyForm, TrackForm, request_form_class


def _show_error(form, err: DomainError) -> str | None:
    """Put a domain error under its field; return it for the top of the form when it names no field."""
    message = err.translate(gettext)
    field = form._fields.get(err.field) if err.field else None
    if field is not None:
        field.errors = list(field.errors or []) + [message]
        return None
    return message


@bp.route("/")
def home():
    """Show what a beneficiary can do here."""
    return render_template("portal/home.html")


@bp.route("/request")
def services():
    """List the services with their conditions and required documents."""
    offered = [(s, svc.service_documents(s)) for s in svc.offered_services()]
    return render_template("portal/services.html", offered=offered)


def _max_bytes() -> int:
    return current_app.config["UPLOAD_MAX_BYTES"]


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


def _uploads(form, document_types) -> list[svc.Upload]:
    uploads = []
    for d in document_types:
        storage = form[f"doc{d.id}"].data
        if storage is not None and getattr(storage, "filename", None):
            # One byte past the limit is enough to refuse it; the rest is never read into memory.
            uploads.append(svc.Upload(d.id, storage.stream.read(_max_bytes() + 1), storage.filename))
    return uploads


@bp.route("/request/<int:id>", methods=["GET", "POST"])
@post_limit
def apply(id):
    """Show the service's request form and take the request (P2.4, P5.4, P6.1)."""
    service = svc.offered_service(id)
    if service is None:
        return redirect(url_for(".services"))
    lang = portal_language()
    questions, document_types = svc.service_questions(service), svc.service_documents(service)
    form = request_form_class(questions, document_types, lang)()
    form.nationality.choices = country_choices(lang)
    error = None
    if request.method == "POST":
        if form.is_spam():
            # A robot: the same page as a success, nothing stored but the audit row.
            svc.record_spam("request", ip=request.remote_addr)
            return render_template("portal/receipt.html")
        if form.validate():
            application = svc.Application(
                service_id=service.id, person={name: form[name].data for name in svc.PERSON_FIELDS},
                answers={q.id: form[f"q{q.id}"].data for q in questions}, uploads=_uploads(form, document_types),
                attested=bool(form.attestation.data), language=lang)
            try:
                svc.submit_application(application, upload_dir=current_app.config["UPLOAD_DIR"],
                                       max_bytes=_max_bytes(), ip=request.remote_addr)
            except DomainError as err:
                error = _show_error(form, err) or gettext("The request was not sent. Check the fields marked below.")
            else:
                # One page whatever was found on file (services/portal.py): the number goes by message.
                return render_template("portal/receipt.html")
        else:
            error = gettext("The request was not sent. Check the fields marked below.")
    return render_template("portal/apply.html", form=form, service=service, questions=questions,
                           document_types=document_types, error=error, attestation_version=ATTESTATION_VERSION,
                           allowed_types=ALLOWED_LABEL, max_mb=_megabytes(_max_bytes()))


@bp.route("/track", methods=["GET", "POST"])
@track_limit
def track():
    """Show a request's status and next step to whoever knows its number, ID number and mobile's last 4 digits."""
    form = TrackForm()
    looked_up, result = False, None
    if request.method == "POST" and form.validate():
        result = svc.track(form.request_number.data, form.id_number.data, form.mobile.data, ip=request.remote_addr)
        looked_up = True
        # The typed details are not shown back: a miss then reads the same whatever was wrong.
        form = TrackForm(formdata=None)
    return render_template("portal/track.html", form=form, looked_up=looked_up, result=result)


@bp.route("/contact", methods=["GET", "POST"])
@post_limit
def contact():
    """Take an inquiry, a suggestion or a complaint (P2.3, P2.7), answered through the staff's queue."""
    lang = portal_language()
    form = ContactForm()
    form.kind.choices = [(k.code, portal_name(k)) for k in interactions.public_kinds()]
    error = None
    if request.method == "POST":
        if form.is_spam():
            svc.record_spam("contact", ip=request.remote_addr)
            return render_template("portal/contact_done.html", interaction=None)
        if form.validate():
            try:
                interaction = interactions.create_from_portal(
                    form.kind.data, form.text.data, name=form.name.data, mobile=form.mobile.data,
                    subject=form.subject.data, id_number=form.id_number.data, language=lang, ip=request.remote_addr)
            except DomainError as err:
                error = _show_error(form, err) or gettext("Your message was not sent. Check the fields marked below.")
            else:
                return render_template("portal/contact_done.html", interaction=interaction)
        else:
            error = gettext("Your message was not sent. Check the fields marked below.")
    return render_template("portal/contact.html", form=form, error=error)


@bp.route("/survey/<token>", methods=["GET", "POST"])
@post_limit
def survey(token):
    """Let the beneficiary rate the service from their one-time link (P2.5)."""
    try:
        invitation = surveys.invitation_for_token(token)
    except surveys.SurveyUnavailable as err:
        return render_template("portal/survey_unavailable.html", message=err.translate(gettext), reason=err.reason)
    if request.args.get("lang") is None and "portal_lang" not in session \
            and invitation.language in portal_languages():
        # The survey opens in the beneficiary's language (P2.5) unless they chose another.
        session["portal_lang"] = invitation.language
        refresh()
    form = SurveyForm()
    error = None
    if request.method == "POST":
        if form.validate():
            answers = {name: form[name].data for name in ("overall", "speed", "courtesy", "clarity",
                                                          "would_recommend", "comment")}
            try:
                surveys.submit(token, answers, ip=request.remote_addr, language=portal_language())
            except surveys.SurveyUnavailable as err:
                return render_template("portal/survey_unavailable.html", message=err.translate(gettext),
                                       reason=err.reason)
            except DomainError as err:
                error = _show_error(form, err)
            else:
                return render_template("portal/survey_done.html")
        else:
            error = gettext("Answer every question marked below.")
    return render_template("portal/survey.html", form=form, invitation=invitation, error=error)
