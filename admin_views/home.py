"""The panel's home page: each role's worklist and the counts that matter to it, linked to the lists."""
from flask import current_app, jsonify, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user

from models import Beneficiary
from models.choices import STATUSES
from services import worklists
from services.roles import can
from services.search import count_rows

# Visits listed on the home page; more are behind a link to the visits list.
VISITS_SHOWN = 20


class HomeView(AdminIndexView):
    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @expose("/")
    def index(self):
        user = current_user._get_current_object()
        role = user.role
        # Every part the page can show, None where this role's home leaves it out (the template tests each).
        page = dict.fromkeys(("beneficiaries", "overdue", "visits", "week", "referrals", "my_requests", "drafts",
                              "awaiting_count", "awaiting", "duplicates", "attention"))
        page.update(counts={}, statuses=STATUSES, role=role)
        if can(role, "requests.read"):
            page["counts"] = worklists.status_counts(user)
            page["overdue"] = worklists.overdue_count(user)
        if can(role, "beneficiaries.read"):
            page["beneficiaries"] = count_rows(Beneficiary.select())
        if role in ("researcher", "manager", "admin", "volunteer"):
            # The first ones, with a link to the list of all: a week can hold a thousand visits.
            page["visits"] = worklists.my_visits_this_week(user, limit=VISITS_SHOWN + 1)
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
        return self.render("admin/home.html", visits_shown=VISITS_SHOWN, **page)

    @expose("/views-menu/")
    def views_menu(self):
        """Return the counts of the user's views, asked for when the navbar's Views menu is opened.

        JSON: {"counts": {"<list>:<view>": n}, "items": [{"name", "count"}]}; each count in the user's scope.
        """
        items = current_app.jinja_env.globals["saved_view_menu"](counts=True)
        return jsonify(counts={item["key"]: item["count"] for item in items},
                       items=[{"name": item["name"], "count": item["count"]} for item in items])


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
    page = {"interactions": None, "feedback": None, "feedback_categories": {}}
    if can(user.role, "interactions.read"):
        page["interactions"] = interactions.counts_for(user)
    if can(user.role, "interactions.read") or can(user.role, "satisfaction.read"):
        page["feedback"] = interactions.monthly_feedback_counts()
        page["feedback_categories"] = dict(INTERACTION_CATEGORIES)
    return page
