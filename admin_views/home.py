"""The panel's home page: each role's worklist and the counts that matter to it, linked to the lists."""
from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from peewee import fn

from models import Beneficiary, ServiceRequest
from models.choices import STATUSES
from services import worklists
from services.requests import visible_requests
from services.roles import can


class HomeView(AdminIndexView):
    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @expose("/")
    def index(self):
        user = current_user._get_current_object()
        role = user.role
        page = {"counts": {}, "statuses": STATUSES, "beneficiaries": None, "role": role}
        if can(role, "requests.read"):
            query = visible_requests(
                ServiceRequest.select(ServiceRequest.status, fn.COUNT(ServiceRequest.id).alias("n")), user)
            page["counts"] = {row.status: row.n for row in query.group_by(ServiceRequest.status)}
            page["overdue"] = worklists.overdue_count(user)
        if can(role, "beneficiaries.read"):
            page["beneficiaries"] = Beneficiary.select().count()
        if role in ("researcher", "manager", "admin", "volunteer"):
            page["visits"] = worklists.my_visits_this_week(user)
            page["week"] = worklists.week_bounds()
            page["referrals"] = worklists.referrals_for(user)
        if role == "researcher":
            page["my_requests"] = worklists.my_open_requests(user)
        if role == "volunteer":
            page["drafts"] = worklists.my_drafts(user)
        if can(role, "decide"):
            page["awaiting_count"], page["awaiting"] = worklists.awaiting_decision()
            page["duplicates"] = _duplicate_count()
            page["attention"] = _messages_needing_attention()
        page.update(_voice(user))
        return self.render("admin/home.html", **page)


def _duplicate_count() -> int:
    from services import duplicates
    return duplicates.open_candidate_count()


def _messages_needing_attention() -> int:
    """Return the messages whose delivery is unknown (to check by hand) or failed for good."""
    from services import notifications
    return notifications.needing_attention_count()


def _voice(user) -> dict:
    """Return the open and overdue interactions and this month's suggestions and complaints (P2.6, P2.7)."""
    from models.interaction import INTERACTION_CATEGORIES
    from services import interactions
    page = {}
    if can(user.role, "interactions.read"):
        page["interactions"] = interactions.counts_for(user)
    if can(user.role, "interactions.read") or can(user.role, "satisfaction.read"):
        page["feedback"] = interactions.monthly_feedback_counts()
        page["feedback_categories"] = dict(INTERACTION_CATEGORIES)
    return page
