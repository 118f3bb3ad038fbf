"""Satisfaction (P2.5, P2.6): the dashboard with its charts, and the surveys staff take by phone or in person."""
import datetime

from flask import flash, request
from flask_admin import expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN
from wtforms import SelectField

from models import SatisfactionSurvey, Service, ServiceRequest, User
from models.choices import CHANNELS, LANGUAGES, label
from models.survey import SURVEY_CHANNELS, SURVEY_RATINGS
from services import surveys as svc
from services.errors import DomainError
from services.normalize import to_ascii_digits
from services.roles import can
from services.search import request_matches
from web.filters import current_lang

from .base import SecureModelView, SecureView
from .fields import SafeAjaxLoader, lazy_choices
from .filters import RiyadhDayBetweenFilter
from .formatters import bdi_formatter, choice_formatter, date_formatter

_RATING_CHOICES = [(str(n), str(n)) for n in range(5, 0, -1)]
_STAFF_CHANNELS = [(code, text) for code, text in SURVEY_CHANNELS if code != "portal"]


def _day(name: str, default: datetime.date) -> datetime.date:
    """Read a YYYY-MM-DD day from the query string (any digits); the default when empty."""
    text = to_ascii_digits(request.args.get(name, "")).strip()
    if not text:
        return default
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        flash(gettext("Enter the dates as YYYY-MM-DD."), "error")
        return default


def _group_rows(groups, label_of) -> list[dict]:
    """Return dashboard groups as plain rows for the tables and the charts' JSON."""
    rows = []
    for g in groups:
        rows.append({"label": label_of(g), "invited": g.invited, "surveyed": g.surveyed,
                     "response_rate": g.response_rate, "recommend_rate": g.recommend_rate, **g.averages})
    return rows


class SatisfactionView(SecureView):
    """The satisfaction dashboard: averages and response rates by service, channel, staff member and month."""

    capability = "satisfaction.read"


    @expose("/")
    def index(self):
        default_first, default_last = svc.default_period()
        first, last = _day("first", default_first), _day("last", default_last)
        try:
            board = svc.dashboard(first, last, current_lang())
        except DomainError as err:
            flash(err.translate(gettext), "error")
            first, last = default_first, default_last
            board = svc.dashboard(first, last, current_lang())
        not_assigned = gettext("Not assigned")
        tables = [
            ("service", _l("By service"), _l("Service"), _group_rows(board.by_service, lambda g: g.label)),
            ("channel", _l("By channel of the request"), _l("Channel"),
             _group_rows(board.by_channel, lambda g: gettext(label(CHANNELS, g.key)))),
            ("staff", _l("By staff member who served"), _l("Researcher"),
             _group_rows(board.by_staff, lambda g: g.label or not_assigned)),
            ("month", _l("By month"), _l("Month"), _group_rows(board.by_month, lambda g: g.label)),
        ]
        how = _group_rows(board.by_survey_channel, lambda g: gettext(label(SURVEY_CHANNELS, g.key)))
        comments = can(current_user.role, "satisfaction.comments")
        chart_data = {name: rows for name, _title, _header, rows in tables}
        return self.render("admin/satisfaction.html", board=board, total=_group_rows([board.total], str)[0],
                           tables=tables, how=how, first=first, last=last, ratings=SURVEY_RATINGS,
                           chart_data=chart_data, show_comments=comments,
                           lowest=board.lowest if comments else [],
                           chart_labels={"overall": gettext("Overall satisfaction"),
                                         "response_rate": gettext("Response rate (%)")})


class FinishedRequestLoader(SafeAjaxLoader):
    """Request look-up for a staff-entered survey: only requests whose service is finished are offered (one
    posted anyway is refused by the service with the reason)."""

    def get_list(self, term, offset=0, limit=10):
        query = ServiceRequest.select().where(ServiceRequest.status.in_(svc.FINISHED_STATUSES))
        if term:
            query = query.where(ServiceRequest.number.contains(term.upper()))
        return list(query.order_by(ServiceRequest.id.desc()).offset(offset).limit(limit))


def _rating_field(text):
    return {"label": text, "choices": _RATING_CHOICES}


class SatisfactionSurveyView(SecureModelView):
    """Surveys one by one: staff enter those taken by phone or in person; managers read them all."""

    read_capability = "satisfaction.record"
    create_capability = "satisfaction.record"
    edit_capability = None
    export_capability = "satisfaction.comments"

    column_list = ("submitted_at", "request", "service", "channel", "overall", "speed", "courtesy", "clarity",
                   "would_recommend", "taken_by")
    column_details_list = ("submitted_at", "request", "beneficiary", "channel", "language", "overall", "speed",
                           "courtesy", "clarity", "would_recommend", "comment", "taken_by", "created_by")
    column_export_list = ("submitted_at", "request", "service", "channel", "language", "overall", "speed",
                          "courtesy", "clarity", "would_recommend", "comment", "taken_by")
    column_default_sort = ("id", True)
    column_sortable_list = ("submitted_at", "overall", "channel")
    form_columns = ("request", "channel", "language", "overall", "speed", "courtesy", "clarity", "would_recommend",
                    "comment")
    form_overrides = dict.fromkeys(("overall", "speed", "courtesy", "clarity"), SelectField)
    form_choices = {"channel": lazy_choices(_STAFF_CHANNELS), "language": lazy_choices(LANGUAGES)}
    form_ajax_refs = {"request": FinishedRequestLoader("request", ServiceRequest, fields=(ServiceRequest.number,),
                                                       page_size=10)}
    column_labels = {
        "submitted_at": _l("Received at"), "request": _l("Request"), "service": _l("Service"),
        "beneficiary": _l("Beneficiary"), "channel": _l("How the survey was taken"), "language": _l("Language"),
        "overall": _l("Overall satisfaction"), "speed": _l("Speed of the service"),
        "courtesy": _l("Courtesy of the staff"), "clarity": _l("Clarity of the information"),
        "would_recommend": _l("Would recommend"), "comment": _l("Comment"), "taken_by": _l("Taken by"),
        "created_by": _l("Created by"),
    }
    form_args = {name: {"choices": _RATING_CHOICES} for name in ("overall", "speed", "courtesy", "clarity")}
    column_formatters = {
        "submitted_at": date_formatter, "channel": choice_formatter(SURVEY_CHANNELS),
        "language": choice_formatter(LANGUAGES), "overall": bdi_formatter,
        "request": lambda v, c, m, n: m.request.number,
        "service": lambda v, c, m, n: m.request.service.name_ar if current_lang() == "ar" else m.request.service.name_en,
        "would_recommend": lambda v, c, m, n: gettext("Yes") if m.would_recommend else gettext("No"),
    }
    column_formatters_export = {"request": lambda v, c, m, n: m.request.number,
                                "service": lambda v, c, m, n: m.request.service.name_ar}

    def base_query(self):
        # Who took the survey is joined too: otherwise one query per row for the "Taken by" column.
        taker = User.alias()
        return (SatisfactionSurvey.select(SatisfactionSurvey, ServiceRequest, Service, taker)
                .join(ServiceRequest).join(Service).switch(SatisfactionSurvey)
                .join(taker, JOIN.LEFT_OUTER, on=(SatisfactionSurvey.taken_by == taker.id), attr="taken_by"))

    prejoined = ("ServiceRequest", "Service")

    def get_filters(self):
        return [
            FilterEqual(SatisfactionSurvey.channel, _l("How the survey was taken"),
                        options=lazy_choices(SURVEY_CHANNELS)),
            FilterEqual(SatisfactionSurvey.overall, _l("Overall satisfaction"), options=_RATING_CHOICES),
            RiyadhDayBetweenFilter(SatisfactionSurvey.submitted_at, _l("Received at")),
        ]

    def search_clause(self, term):
        # A subquery, not the joined request: the pager counts the surveys' own table (get_count_query).
        return request_matches(SatisfactionSurvey.request, term)

    def scope_query(self, query):
        if self._role() is None:
            return query
        return svc.visible_surveys(query, current_user)

    def create_model(self, form):
        answers = {name: form[name].data for name in ("overall", "speed", "courtesy", "clarity")}
        answers.update(would_recommend=bool(form.would_recommend.data), comment=form.comment.data)
        try:
            return svc.record_by_staff(form.request.data, answers, form.channel.data,
                                       current_user._get_current_object(), language=form.language.data)
        except DomainError as err:
            self._show_domain_error(form, err)
            return False
