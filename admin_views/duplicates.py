"""Possible duplicates (P6.6): pairs side by side; not a duplicate, shared mobile, or merge after a confirmation."""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import Beneficiary
from models.duplicate import DUPLICATE_REASONS
from services import duplicates as svc
from services.errors import DomainError
from services.ids import MAX_ID, parse_id
from services.validators import format_mobile, mask_digits

from .audit_log import TABLES
from .base import SecureView
from .beneficiaries import BeneficiaryView

PAGE_SIZE = 25

# Tables a merge moves rows of; a table added later shows under its class name until labelled here.
MOVED_TABLES = {**TABLES, "Referral": _l("Referral")}


class DuplicatesView(SecureView):
    """Review of possible duplicate beneficiaries; reaching it needs duplicates.review."""

    capability = "duplicates.review"

    def _person(self, b: Beneficiary) -> dict:
        """Return what the page shows of one beneficiary, personal data masked for roles without it."""
        personal = self._can("beneficiaries.personal")
        return {"id": b.id, "reference": b.reference, "full_name": b.full_name, "birth_date": b.birth_date,
                "id_number": b.id_number if personal else mask_digits(b.id_number),
                "mobile": format_mobile(b.mobile) if personal else mask_digits(b.mobile),
                "created_at": b.created_at}

    def _back(self):
        # Back to the list as it was filtered (the pairs of one beneficiary, from the registration warning).
        return redirect(self.get_url(".index", beneficiary=request.form.get("beneficiary", type=parse_id)))

    @expose("/")
    def index(self):
        page = min(max(request.args.get("page", 0, type=int), 0), MAX_ID // PAGE_SIZE)
        beneficiary_id = request.args.get("beneficiary", type=parse_id)
        rows = svc.candidates(limit=PAGE_SIZE, offset=page * PAGE_SIZE, beneficiary_id=beneficiary_id)
        counts = svc.request_counts({b.id for c in rows for b in (c.a, c.b)})
        pairs = [{"id": c.id, "reasons": c.reasons, "sides": [self._person(c.a), self._person(c.b)],
                  "mobile": c.a.mobile if "mobile" in c.reasons else None} for c in rows]
        total = svc.open_candidate_count(beneficiary_id)
        return self.render("admin/duplicates.html", pairs=pairs, counts=counts, total=total, page=page,
                           page_size=PAGE_SIZE, beneficiary_id=beneficiary_id, shared=svc.shared_mobiles(),
                           reasons={code: gettext(label) for code, label in DUPLICATE_REASONS},
                           can_merge=self._can("duplicates.merge"))

    @expose("/<int:id>/dismiss", methods=["POST"])
    def dismiss(self, id):
        """Record the pair as two different people."""
        try:
            svc.dismiss(id, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The pair was marked as not a duplicate."), "success")
        return self._back()

    @expose("/<int:id>/shared-mobile", methods=["POST"])
    def shared_mobile(self, id):
        """Mark the pair's common mobile as shared, so it pairs nobody."""
        candidate = svc.get_candidate(id)
        if candidate is None:
            abort(404)
        if candidate.a.mobile != candidate.b.mobile or "mobile" not in candidate.reasons:
            flash(gettext("These two do not share a mobile."), "error")
            return self._back()
        try:
            svc.mark_shared_mobile(candidate.a.mobile, current_user._get_current_object(), request.form.get("note"))
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The mobile was marked as shared: it no longer pairs the people who use it."), "success")
        return self._back()

    @expose("/shared-mobile/remove", methods=["POST"])
    def unshare_mobile(self):
        """Undo a shared-mobile mark."""
        try:
            svc.unmark_shared_mobile(request.form.get("shared_id", type=parse_id) or 0, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The mobile is no longer marked as shared."), "success")
        return self._back()

    def _sides(self, id):
        """Return (candidate, kept, merged) for the pair and the side chosen in ?keep= or the form."""
        if not self._can("duplicates.merge"):
            abort(403)
        candidate = svc.get_candidate(id)
        if candidate is None:
            abort(404)
        keep = request.values.get("keep", type=parse_id)
        if keep == candidate.b.id:
            return candidate, candidate.b, candidate.a
        return candidate, candidate.a, candidate.b

    @expose("/<int:id>/merge")
    def merge_form(self, id):
        """Show what a merge into the chosen beneficiary would move, before doing it."""
        candidate, kept, merged = self._sides(id)
        plan = [(str(MOVED_TABLES.get(name, name)), n) for name, n in svc.merge_plan(merged).items()]
        labels = BeneficiaryView.column_labels
        filled = [str(labels.get(name, name)) for name in svc.fillable_fields(kept, merged)]
        return self.render("admin/duplicates_merge.html", candidate=candidate, kept=self._person(kept),
                           merged=self._person(merged), plan=plan, filled=filled,
                           clashes=svc.open_request_clashes(kept, merged))

    @expose("/<int:id>/merge/confirm", methods=["POST"])
    def merge(self, id):
        """Merge the pair into the chosen beneficiary."""
        _candidate, kept, merged = self._sides(id)
        try:
            result = svc.merge(kept, merged, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(self.get_url(".merge_form", id=id, keep=kept.id))
        flash(gettext("%(merged)s was merged into %(kept)s.", merged=result.merged_reference,
                      kept=result.kept.reference), "success")
        return redirect(url_for("beneficiary.details_view", id=result.kept.id))
