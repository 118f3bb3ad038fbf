"""The panel's home page: each role sees the counts that matter to it, linked to the lists."""
from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from peewee import fn

from models import Beneficiary, ServiceRequest
from models.choices import STATUSES
from services import workflow
from services.dates import today_local
from services.requests import visible_requests
from services.roles import can


class HomeView(AdminIndexView):
    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @expose("/")
    def index(self):
        role = current_user.role
        counts = {}
        if can(role, "requests.read"):
            query = visible_requests(
                ServiceRequest.select(ServiceRequest.status, fn.COUNT(ServiceRequest.id).alias("n")), current_user)
            counts = {row.status: row.n for row in query.group_by(ServiceRequest.status)}
        overdue = 0
        if role in ("admin", "manager"):
            overdue = ServiceRequest.select().where(
                (ServiceRequest.decision_due < today_local()) &
                ServiceRequest.status.in_(workflow.OPEN_STATUSES)).count()
        beneficiaries = Beneficiary.select().count() if can(role, "beneficiaries.read") else None
        return self.render("admin/home.html", counts=counts, statuses=STATUSES, overdue=overdue,
                           beneficiaries=beneficiaries)
