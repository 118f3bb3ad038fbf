"""What each role's home page lists: the work waiting for them, soonest due first."""
import datetime

from peewee import SQL, fn

from models import Beneficiary, Service, ServiceRequest, User, VerificationVisit

from . import workflow
from .dates import today_local, utc_midnight
from .referrals import open_referrals
from .scopes import visible_requests, visible_visits
from .sensitive_rows import visible_sensitive_requests


def week_bounds(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """Return the Saudi working week around a day: Sunday to Saturday."""
    today = today or today_local()
    start = today - datetime.timedelta(days=(today.weekday() + 1) % 7)
    return start, start + datetime.timedelta(days=6)


def my_open_requests(user: User, limit: int = 20) -> list[ServiceRequest]:
    """Return the open requests in the user's scope, the nearest decision due date first."""
    query = (ServiceRequest.select(ServiceRequest, Beneficiary, Service).join(Beneficiary).switch(ServiceRequest)
             .join(Service).where(ServiceRequest.status.in_(workflow.OPEN_STATUSES - {"draft"})))
    return soonest_due(visible_requests(query, user), limit)


def my_visits_this_week(user: User, today: datetime.date | None = None,
                        limit: int | None = None) -> list[VerificationVisit]:
    """Return the visits scheduled this week that the user's role sees, in time order (the first `limit`)."""
    start, end = week_bounds(today)
    query = (VerificationVisit.select(VerificationVisit, ServiceRequest).join(ServiceRequest)
             .where((VerificationVisit.scheduled_at >= utc_midnight(start)) &
                    (VerificationVisit.scheduled_at < utc_midnight(end + datetime.timedelta(days=1)))))
    if user.role == "researcher":
        query = query.where((ServiceRequest.researcher == user.id) | (VerificationVisit.performed_by == user.id))
    else:
        query = visible_visits(query, user)
    query = query.order_by(VerificationVisit.scheduled_at, VerificationVisit.id)
    return list(query.limit(limit) if limit else query)


def awaiting_decision(limit: int = 20) -> tuple[int, list[ServiceRequest]]:
    """Return how many requests wait for a decision and the ones due first."""
    waiting = ServiceRequest.status == "under_evaluation"
    query = (ServiceRequest.select(ServiceRequest, Beneficiary, Service).join(Beneficiary).switch(ServiceRequest)
             .join(Service).where(waiting))
    # Counted on the requests alone (an index range), not joined to their beneficiary and service.
    count = ServiceRequest.select().where(waiting).count()
    return count, soonest_due(query, limit)


def soonest_due(query, limit: int) -> list[ServiceRequest]:
    """Return a request query's first rows by decision due date, the ones without a date last.

    Dated ones first, then (only if the page is not full) the undated: each an index walk on
    (status, decision_due) that stops after `limit` rows, where ORDER BY … NULLS LAST sorted every
    request waiting for a decision on each home page (issue 9 benchmarks).
    """
    due = ServiceRequest.decision_due
    rows = list(query.where(due.is_null(False)).order_by(due, ServiceRequest.id).limit(limit))
    if len(rows) < limit:
        rows += list(query.where(due.is_null()).order_by(ServiceRequest.id).limit(limit - len(rows)))
    return rows


def listed_requests(query, user):
    """Narrow a request query to what the user's request list shows: their scope, and sensitive rows as allowed.

    Every count on the home page links to that list, so it counts the same rows (issue 15: the board's
    counts included requests of sensitive services its list never shows).
    """
    return visible_sensitive_requests(visible_requests(query, user), user)


def status_counts(user: User) -> dict[str, int]:
    """Return {status: number of requests} as the user's request list would count them."""
    # COUNT(*), not COUNT(id): PostgreSQL then counts in the status index alone (half the time, issue 9).
    query = listed_requests(ServiceRequest.select(ServiceRequest.status, fn.COUNT(SQL("*")).alias("n")), user)
    return {row.status: row.n for row in query.group_by(ServiceRequest.status)}


def overdue_count(user: User) -> int:
    """Return the open requests in the user's list past their decision due date (P5.5)."""
    query = ServiceRequest.select().where((ServiceRequest.decision_due < today_local()) &
                                          ServiceRequest.status.in_(workflow.OPEN_STATUSES))
    return listed_requests(query, user).count()


def my_drafts(user: User, limit: int = 20) -> list[ServiceRequest]:
    """Return the drafts the user registered and has not submitted yet."""
    # The beneficiary and service the home page shows are joined: not two more queries per draft.
    return list(ServiceRequest.select(ServiceRequest, Beneficiary, Service).join(Beneficiary).switch(ServiceRequest)
                .join(Service).where((ServiceRequest.status == "draft") &
                                     (ServiceRequest.created_by == user.username))
                .order_by(ServiceRequest.id.desc()).limit(limit))


def referrals_for(user: User, limit: int = 20) -> list:
    """Return the open referrals on the user's worklist."""
    # The beneficiary the home page names is joined: not one more query per referral.
    from models import Referral
    query = open_referrals(user).select_extend(Beneficiary).join(
        Beneficiary, on=(Referral.beneficiary == Beneficiary.id), attr="beneficiary")
    return list(query.limit(limit))
