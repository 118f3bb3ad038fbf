"""Beneficiaries screen, with the household (family card) inline."""
import logging

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField

from models import Beneficiary, HouseholdMember
from models.choices import CHANNELS, GENDERS, ID_TYPES, LANGUAGES
from models.consent import CONSENT_BASES, CONSENT_CHANNELS, CONSENT_PURPOSES
from models.duplicate import DUPLICATE_REASONS
from models.interaction import INTERACTION_STATUSES
from models.survey import SURVEY_CHANNELS
from services import audit, consent, duplicates
from services import beneficiaries as svc
from services.countries import country_choices, country_name
from services.errors import N_, DomainError, ValidationError
from services.interactions import timeline
from services.search import distinct_values, key_contains, may_be_code
from services.sensitive_rows import may_see_request
from services.validators import format_mobile
from web.filters import bdi, current_lang

from .base import SecureModelView
from .fields import Inline, lazy_choices
from .filters import RiyadhDayBetweenFilter, live_options
from .formatters import bdi_formatter, choice_formatter, date_formatter

log = logging.getLogger(__name__)


class HouseholdInline(Inline):
    form_columns = ("id", "name", "relation", "id_type", "id_number", "birth_date")
    form_label = _l("Household member")
    column_labels = {"name": _l("Name"), "relation": _l("Relation"), "id_type": _l("ID type"),
                     "id_number": _l("ID number"), "birth_date": _l("Birth date")}
    form_choices = {"id_type": lazy_choices(ID_TYPES)}

    def on_model_change(self, form, model, is_created):
        try:
            svc.normalize_member(model)
        except ValidationError as err:
            # Shown on the member's own field: the beneficiary's field of the same name is fine.
            field = getattr(form, err.field, None) if err.field else None
            if field is not None:
                field.errors = list(field.errors or []) + [err.translate(gettext)]
            raise ValidationError(N_("Household member “%(name)s”: %(error)s"), error=err.translate(gettext),
                                  name=model.name or "") from err


def _distinct_values(field):
    @live_options
    def options():
        # Through the column's index, one probe per value: not a read of 100,000 rows on every page.
        return [(value, value) for value in distinct_values(field, 500)]
    return options


class BeneficiaryView(SecureModelView):
    read_capability = "beneficiaries.read"
    create_capability = "beneficiaries.create"
    edit_capability = "beneficiaries.edit"
    export_capability = "export"
    # Which columns each role sees: models/personal_data.py (the board: no ID, birth date, mobile,
    # email; volunteers and the board: no notes or category), in the list, details, forms and exports.

    column_list = ("reference", "full_name", "id_number", "nationality", "mobile", "city", "category",
                   "family_size", "created_at")
    column_details_list = ("reference", "full_name", "latin_name", "id_type", "id_number", "nationality",
                           "language", "gender", "birth_date", "mobile", "email", "city", "district",
                           "category", "family_size", "consent_at", "notes", "created_at", "created_by",
                           "updated_at", "updated_by")
    column_export_list = column_details_list
    column_default_sort = ("id", True)
    column_sortable_list = ("reference", "full_name", "nationality", "city", "created_at")
    form_columns = ("full_name", "latin_name", "id_type", "id_number", "nationality", "language", "gender",
                    "birth_date", "mobile", "email", "city", "district", "category", "family_size",
                    "consent_at", "notes")
    form_overrides = {"nationality": SelectField}
    form_choices = {"id_type": lazy_choices(ID_TYPES), "gender": lazy_choices(GENDERS),
                    "language": lazy_choices(LANGUAGES)}
    inline_models = (HouseholdInline(HouseholdMember),)
    # The whole story on one page: requests, visits, messages and interactions (issue 6).
    details_template = "admin/beneficiary_details.html"
    column_labels = {
        "reference": _l("Reference"), "full_name": _l("Full name"), "latin_name": _l("Name in Latin letters"),
        "id_type": _l("ID type"), "id_number": _l("ID number"), "nationality": _l("Nationality"),
        "language": _l("Language"), "gender": _l("Gender"), "birth_date": _l("Birth date"),
        "mobile": _l("Mobile"), "email": _l("Email"), "city": _l("City"), "district": _l("District"),
        "category": _l("Category"), "family_size": _l("Family size"), "consent_at": _l("Consent given at"),
        "notes": _l("Notes"), "created_at": _l("Registered at"), "created_by": _l("Registered by"),
        "updated_at": _l("Last changed at"), "updated_by": _l("Last changed by"), "household": _l("Household"),
    }
    column_formatters = {
        "reference": bdi_formatter,
        "id_number": bdi_formatter,
        "id_type": choice_formatter(ID_TYPES),
        "gender": choice_formatter(GENDERS),
        "language": choice_formatter(LANGUAGES),
        "nationality": lambda v, c, m, n: country_name(m.nationality, current_lang()),
        "mobile": lambda v, c, m, n: bdi(format_mobile(m.mobile)),
        "birth_date": date_formatter, "consent_at": date_formatter,
        "created_at": date_formatter, "updated_at": date_formatter,
    }
    column_formatters_export = {
        "nationality": lambda v, c, m, n: m.nationality,
        # 0501234567 rather than +966…: data that a spreadsheet would read as a formula.
        "mobile": lambda v, c, m, n: format_mobile(m.mobile, spaced=False),
    }

    @property
    def column_filters(self):
        return None

    def get_filters(self):
        return [
            FilterEqual(Beneficiary.nationality, _l("Nationality"), options=lambda: country_choices(current_lang())),
            FilterEqual(Beneficiary.city, _l("City"), options=_distinct_values(Beneficiary.city)),
            FilterEqual(Beneficiary.category, _l("Category"), options=_distinct_values(Beneficiary.category)),
            FilterEqual(Beneficiary.gender, _l("Gender"), options=lazy_choices(GENDERS)),
            FilterEqual(Beneficiary.id_type, _l("ID type"), options=lazy_choices(ID_TYPES)),
            RiyadhDayBetweenFilter(Beneficiary.created_at, _l("Registered at")),
        ]

    @expose("/details/")
    def details_view(self):
        model = self.get_one(request.args.get("id", ""))
        if model is not None:
            user = current_user._get_current_object()
            # Requests of sensitive services only for the roles that see them (and whoever registered one).
            entries = [e for e in timeline(model, user) if e.kind != "request" or may_see_request(e.item, user)]
            self._template_args.update(timeline=entries,
                                       interaction_statuses=dict(INTERACTION_STATUSES),
                                       survey_channels=dict(SURVEY_CHANNELS))
            if self._can("beneficiaries.personal"):
                self._template_args.update(consents=consent.latest(model), consent_purposes=CONSENT_PURPOSES,
                                           consent_channels=dict(CONSENT_CHANNELS), consent_bases=dict(CONSENT_BASES),
                                           staff_channels=CHANNELS)
        return super().details_view()

    @expose("/consent/<int:id>", methods=["POST"])
    def record_consent(self, id):
        """Record a purpose's consent given or withdrawn, from the consent card (audited)."""
        if not self._can("beneficiaries.edit"):
            abort(403)
        model = self.get_one(str(id))
        if model is None:
            abort(404)
        given = {"given": True, "withdrawn": False}.get(request.form.get("given", ""))
        try:
            consent.record(model, request.form.get("purpose", ""), given, request.form.get("channel", ""),
                           current_user.username, note=request.form.get("note"))
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("Consent recorded."), "success")
        return redirect(self.get_url(".details_view", id=model.id) + "#consent")

    def search_placeholder(self):
        return str(_l("Name, reference, last digits of the ID, or mobile"))

    def search_clause(self, term):
        clause = key_contains(Beneficiary.name_key, term)
        if may_be_code(term):  # an Arabic fragment is neither in a reference nor in a Latin name
            clause |= key_contains(Beneficiary.reference, term.upper()) | Beneficiary.latin_name.contains(term)
        hidden = self._hidden_columns()
        # Searching a field the role may not see would tell it the value.
        if term.isdigit() and "id_number" not in hidden:
            clause |= Beneficiary.id_number.endswith(term)
        if term.isdigit() and "mobile" not in hidden:
            clause |= Beneficiary.mobile.contains(term)
        return clause

    def prepare_form(self, form):
        if "nationality" in form._fields:
            form.nationality.choices = [("", "")] + country_choices(current_lang())
        return super().prepare_form(form)

    def render(self, template, **kwargs):
        """Render a page; a GET of the full record (details or edit page) is logged as a "view" (PDPL)."""
        html = super().render(template, **kwargs)
        # Flask-Admin renders these pages only for an existing row the role may open (else 404/403),
        # so this logs exactly the successful looks at a record; a failed edit (POST) is not a look.
        if request.method == "GET" and kwargs.get("model") is not None \
                and request.endpoint in (f"{self.endpoint}.details_view", f"{self.endpoint}.edit_view"):
            audit.record("view", kwargs["model"], actor=current_user.username,
                         details={"page": request.endpoint.rsplit(".", 1)[1].removesuffix("_view")})
        return html

    def validate_model(self, model, is_created):
        svc.normalize_beneficiary(model)

    def after_insert(self, model):
        svc.assign_reference(model)

    def after_model_change(self, form, model, is_created):
        """Check the saved beneficiary for possible duplicates (P6.6) and warn about new ones."""
        try:
            found = duplicates.refresh(model)
        except Exception:  # the beneficiary is saved; a failed check must not turn that into an error page
            log.exception("Duplicate check failed for beneficiary %s", model.id)
            return
        if found:
            self._warn_duplicates(model, found)

    def _warn_duplicates(self, model, found):
        reasons = dict(DUPLICATE_REASONS)
        comma = "، " if current_lang() == "ar" else ", "
        items = Markup(comma).join(
            Markup('<a href="%s">%s</a> (%s)') % (url_for(".details_view", id=other.id), other,
                                                  comma.join(gettext(reasons[code]) for code in c.reasons))
            for c in found for other in [c.b if c.a.id == model.id else c.a])
        message = Markup(gettext("Possible duplicates of this beneficiary: %(list)s.", list=items))
        if self._can("duplicates.review"):
            link = url_for("duplicates.index", beneficiary=model.id)
            message += Markup(' <a href="%s">%s</a>') % (link, gettext("Review them"))
        else:
            message += " " + gettext("A reviewer will check them.")
        flash(message, "warning")

    def _show_domain_error(self, form, err):
        super()._show_domain_error(form, err)
        if isinstance(err, svc.DuplicateBeneficiary):
            # Name and link the existing record instead of leaving the user to search for it.
            link = url_for(".details_view", id=err.existing.id)
            flash(Markup('<a href="%s">%s</a>') % (link, gettext("Open beneficiary %(reference)s",
                                                                  reference=err.existing.reference)), "info")
