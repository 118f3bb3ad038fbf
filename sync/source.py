"""Reading the database for the mirror: the records of each tab, which changed, and the summary counts.

Each query selects only what sync/rows.py names (plus ids), so a field that has no column
never leaves the database on the way to a sheet.
"""
import datetime
import statistics
from collections import Counter

from peewee import JOIN, fn

from models import Beneficiary, Delivery, Service, ServiceRequest, User, VerificationVisit
from services.workflow import OPEN_STATUSES

from .rows import BENEFICIARIES, REQUESTS, Context, local_date, source_fields

Researcher = User.alias("researcher")
Performer = User.alias("performer")


def _staff_name(full_name, username):
    return full_name or username or None


class Source:
    """The mirrored records, restricted by the settings (names opt-in, requests since a date)."""

    def __init__(self, ctx: Context, requests_since: datetime.date | None = None):
        self.ctx = ctx
        self.requests_since = requests_since

    # ---- which requests are mirrored row by row ---------------------------------
    def _mirrored_requests(self, query):
        # A sensitive service (religion is sensitive data) is never shown row by row.
        query = query.where(Service.sensitive == False)  # noqa: E712
        if self.requests_since:
            since = datetime.datetime.combine(self.requests_since, datetime.time())
            query = query.where(ServiceRequest.created_at >= since)
        return query

    def ids(self, key: str) -> set[int]:
        """Return the ids of every record the tab must hold."""
        if key == "beneficiaries":
            return {i for (i,) in Beneficiary.select(Beneficiary.id).tuples()}
        if key == "requests":
            q = ServiceRequest.select(ServiceRequest.id).join(Service)
            return {i for (i,) in self._mirrored_requests(q).tuples()}
        q = VerificationVisit.select(VerificationVisit.id).join(ServiceRequest).join(Service)
        return {i for (i,) in self._mirrored_requests(q).tuples()}

    # ---- the records ----------------------------------------------------------
    def records(self, key: str, ids=None) -> dict[int, dict]:
        """Return {id: record} for the tab, all of it or only the given ids."""
        loader = {"beneficiaries": self._beneficiaries, "requests": self._requests, "visits": self._visits}[key]
        if ids is not None:
            ids = sorted(ids)
            out = {}
            # SQLite caps the number of bound parameters; fetch in slices.
            for start in range(0, len(ids), 500):
                out.update(loader(ids[start:start + 500]))
            return out
        return loader(None)

    def _open_counts(self, ids):
        q = (ServiceRequest.select(ServiceRequest.beneficiary, fn.COUNT(ServiceRequest.id))
             .join(Service)
             .where(ServiceRequest.status.in_(OPEN_STATUSES))
             .group_by(ServiceRequest.beneficiary))
        q = self._mirrored_requests(q)
        if ids is not None:
            q = q.where(ServiceRequest.beneficiary.in_(ids))
        return dict(q.tuples())

    def _beneficiaries(self, ids):
        wanted = source_fields(BENEFICIARIES, self.ctx)
        fields = [Beneficiary.id, Beneficiary.reference, Beneficiary.nationality, Beneficiary.city,
                  Beneficiary.family_size, Beneficiary.created_at]
        if "full_name" in wanted:
            fields.append(Beneficiary.full_name)
        q = Beneficiary.select(*fields)
        if ids is not None:
            q = q.where(Beneficiary.id.in_(ids))
        counts = self._open_counts(ids)
        out = {}
        for rec in q.dicts():
            rec["open_requests"] = counts.get(rec["id"], 0)
            rec["created_at"] = local_date(rec["created_at"])
            out[rec["id"]] = rec
        return out

    def _delivered(self, ids):
        q = Delivery.select(Delivery.request, fn.MIN(Delivery.delivered_at)).group_by(Delivery.request)
        if ids is not None:
            q = q.where(Delivery.request.in_(ids))
        return dict(q.tuples())

    def _requests(self, ids):
        wanted = source_fields(REQUESTS, self.ctx)
        fields = [ServiceRequest.id, ServiceRequest.number, Beneficiary.reference.alias("beneficiary_reference"),
                  Service.name_ar.alias("service_name"), ServiceRequest.channel, ServiceRequest.status,
                  Researcher.full_name.alias("researcher_full_name"), Researcher.username.alias("researcher_username"),
                  ServiceRequest.submitted_at, ServiceRequest.decision_due, ServiceRequest.decision,
                  ServiceRequest.decided_at]
        if "beneficiary_name" in wanted:
            fields.append(Beneficiary.full_name.alias("beneficiary_name"))
        q = (ServiceRequest.select(*fields)
             .join_from(ServiceRequest, Beneficiary)
             .join_from(ServiceRequest, Service)
             .join_from(ServiceRequest, Researcher, JOIN.LEFT_OUTER, on=(ServiceRequest.researcher == Researcher.id)))
        q = self._mirrored_requests(q)
        if ids is not None:
            q = q.where(ServiceRequest.id.in_(ids))
        delivered = self._delivered(ids)
        today = self.ctx.today
        out = {}
        for rec in q.dicts():
            rec["researcher_name"] = _staff_name(rec.pop("researcher_full_name"), rec.pop("researcher_username"))
            rec["delivered_at"] = delivered.get(rec["id"])
            due = rec["decision_due"]
            if isinstance(due, str):
                due = rec["decision_due"] = datetime.date.fromisoformat(due)
            rec["overdue"] = bool(due and due < today and rec["status"] in OPEN_STATUSES)
            out[rec["id"]] = rec
        return out

    def _visits(self, ids):
        q = (VerificationVisit.select(
                VerificationVisit.id, ServiceRequest.number.alias("request_number"), VerificationVisit.method,
                VerificationVisit.scheduled_at, VerificationVisit.performed_at,
                Performer.full_name.alias("performer_full_name"), Performer.username.alias("performer_username"),
                VerificationVisit.outcome)
             .join_from(VerificationVisit, ServiceRequest)
             .join_from(ServiceRequest, Service)
             .join_from(VerificationVisit, Performer, JOIN.LEFT_OUTER,
                        on=(VerificationVisit.performed_by == Performer.id)))
        q = self._mirrored_requests(q)
        if ids is not None:
            q = q.where(VerificationVisit.id.in_(ids))
        out = {}
        for rec in q.dicts():
            rec["performed_by_name"] = _staff_name(rec.pop("performer_full_name"), rec.pop("performer_username"))
            out[rec["id"]] = rec
        return out

    # ---- what changed ----------------------------------------------------------
    def changed_ids(self, key: str, since: datetime.datetime, last_day: datetime.date | None) -> set[int] | None:
        """Return ids whose row may differ since a time; None when every row must be checked."""
        if Service.select().where(Service.updated_at >= since).exists():
            return None  # a service renamed or made sensitive touches rows everywhere
        users = User.select(User.id).where(User.updated_at >= since)
        changed_requests = ServiceRequest.select(ServiceRequest.id).where(ServiceRequest.updated_at >= since)
        if key == "beneficiaries":
            q1 = Beneficiary.select(Beneficiary.id).where(Beneficiary.updated_at >= since)
            q2 = ServiceRequest.select(ServiceRequest.beneficiary).where(ServiceRequest.updated_at >= since)
            return {i for (i,) in q1.tuples()} | {i for (i,) in q2.tuples()}
        if key == "requests":
            out = {i for (i,) in changed_requests.tuples()}
            out |= {i for (i,) in ServiceRequest.select(ServiceRequest.id).join(Beneficiary)
                    .where(Beneficiary.updated_at >= since).tuples()}
            out |= {i for (i,) in ServiceRequest.select(ServiceRequest.id)
                    .where(ServiceRequest.researcher.in_(users)).tuples()}
            out |= {i for (i,) in Delivery.select(Delivery.request).where(Delivery.updated_at >= since).tuples()}
            # A request turns overdue as days pass, with no row changing.
            if last_day is not None:
                out |= {i for (i,) in ServiceRequest.select(ServiceRequest.id).where(
                    ServiceRequest.decision_due.between(last_day - datetime.timedelta(days=1),
                                                        self.ctx.today)).tuples()}
            return out
        out = {i for (i,) in VerificationVisit.select(VerificationVisit.id)
               .where(VerificationVisit.updated_at >= since).tuples()}
        out |= {i for (i,) in VerificationVisit.select(VerificationVisit.id)
                .where(VerificationVisit.request.in_(changed_requests)).tuples()}
        out |= {i for (i,) in VerificationVisit.select(VerificationVisit.id)
                .where(VerificationVisit.performed_by.in_(users)).tuples()}
        return out

    # ---- the summary -------------------------------------------------------------
    def summary(self, synced_at: datetime.datetime) -> dict:
        """Return the summary counts; sensitive services are counted like any other."""
        by_status = dict(ServiceRequest.select(ServiceRequest.status, fn.COUNT(ServiceRequest.id))
                         .group_by(ServiceRequest.status).tuples())
        by_service = list(Service.select(Service.name_ar, fn.COUNT(ServiceRequest.id))
                          .join(ServiceRequest, JOIN.LEFT_OUTER)
                          .group_by(Service.id, Service.name_ar)
                          .order_by(Service.name_ar).tuples())
        overdue = (ServiceRequest.select()
                   .where((ServiceRequest.decision_due < self.ctx.today)
                          & ServiceRequest.status.in_(OPEN_STATUSES)).count())
        days = []
        for submitted, decided in (ServiceRequest.select(ServiceRequest.submitted_at, ServiceRequest.decided_at)
                                   .where(ServiceRequest.submitted_at.is_null(False)
                                          & ServiceRequest.decided_at.is_null(False)).tuples()):
            days.append((local_date(decided) - local_date(submitted)).days)
        median = statistics.median(days) if days else None
        return {
            "synced_at": synced_at,
            "beneficiaries": Beneficiary.select().count(),
            "requests": sum(by_status.values()),
            "by_status": Counter(by_status),
            "by_service": by_service,
            "overdue": overdue,
            "median_days_to_decision": median,
            "satisfaction_average": satisfaction_average(),
        }


def satisfaction_average() -> float | None:
    """Return the average overall rating (1–5) of the satisfaction surveys (P2.5); None before any."""
    from models import SatisfactionSurvey
    value = SatisfactionSurvey.select(fn.AVG(SatisfactionSurvey.overall)).scalar()
    return round(float(value), 2) if value is not None else None
