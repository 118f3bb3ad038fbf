"""Possible duplicate beneficiaries (policy P6.6): finding them, the reviewer's verdicts, and merging two files.

A pair is a candidate when
  - household_id: one's ID (type and number) is the ID of a member of the other's household;
  - mobile: both have the same mobile, unless it is marked shared (SharedMobile);
  - name_birth: the same name search key (services.normalize.name_key) and the same birth date.
The same ID number never gets this far: services.beneficiaries refuses it at registration.

Candidates are stored (models.duplicate.DuplicateCandidate) when a beneficiary is saved, not
computed per page view: each check is a handful of indexed look-ups for one beneficiary, and the
review list and the manager's count are then one query on an indexed status column, however many
beneficiaries there are. Writes that bypass the beneficiary screen (imports, generated data) call
refresh() per row or rescan() once.
"""
from dataclasses import dataclass

from peewee import IntegrityError, fn

from models import Beneficiary, DuplicateCandidate, HouseholdMember, ServiceRequest, SharedMobile, db, utcnow
from models.duplicate import DUPLICATE_REASONS

from . import audit, concurrency, workflow
from .errors import N_, PermissionDenied, ValidationError
from .normalize import clean_text
from .roles import can
from .validators import normalize_mobile
from .workflow import OPEN_STATUSES

REASONS = tuple(code for code, _label in DUPLICATE_REASONS)

# Fields a merge never copies from the merged file: who the kept person is, and bookkeeping.
# Every other field of the kept beneficiary that is empty takes the merged one's value.
# anonymised_at and version describe the row itself, not the person: a merge never copies them.
NEVER_FILLED = frozenset({"id", "reference", "full_name", "name_key", "id_type", "id_number",
                          "created_at", "created_by", "updated_at", "updated_by", "anonymised_at", "version"})


@dataclass(frozen=True)
class Candidate:
    """A pair to review; `a` is the earlier registration."""

    id: int
    a: Beneficiary
    b: Beneficiary
    reasons: tuple[str, ...]
    status: str = "open"


@dataclass
class MergeResult:
    kept: Beneficiary
    merged_id: int
    merged_reference: str | None
    # "Model.field" → ids of the rows that now point at the kept beneficiary.
    moved: dict
    filled: list


# ---- finding -------------------------------------------------------------------
def _pairs(one: int | None = None) -> dict[tuple[int, int], set[str]]:
    """Return {(lower id, higher id): reasons} for every matching pair, or for the pairs of one beneficiary."""
    found: dict[tuple[int, int], set[str]] = {}

    def add(query, reason):
        for x, y in query.tuples():
            found.setdefault((min(x, y), max(x, y)), set()).add(reason)

    def scoped(query, left, right):
        # One beneficiary against everyone, or every pair once (a < b).
        return query.where(left == one) if one is not None else query.where(left < right)

    a, b = Beneficiary.alias(), Beneficiary.alias()
    shared = SharedMobile.select(SharedMobile.mobile)
    add(scoped(a.select(a.id, b.id).join(b, on=(b.mobile == a.mobile) & (b.id != a.id))
               .where(a.mobile.is_null(False) & a.mobile.not_in(shared)), a.id, b.id), "mobile")
    add(scoped(a.select(a.id, b.id)
               .join(b, on=(b.name_key == a.name_key) & (b.birth_date == a.birth_date) & (b.id != a.id))
               .where(a.birth_date.is_null(False) & (a.name_key != "")), a.id, b.id), "name_birth")
    # Type and number together, so the look-up uses the beneficiary's unique (id_type, id_number) index.
    m = HouseholdMember
    household = a.select(a.id, m.beneficiary).join(
        m, on=(m.id_type == a.id_type) & (m.id_number == a.id_number) & (m.beneficiary != a.id))
    if one is None:
        add(household, "household_id")
    else:
        add(household.where(a.id == one), "household_id")
        add(household.where(m.beneficiary == one), "household_id")
    return found


def _codes(reasons) -> str:
    return ",".join(code for code in REASONS if code in reasons)


def _store(found: dict, rows: dict) -> tuple[list, list]:
    """Write the found pairs over the stored rows; return (opened pairs, pairs no longer matching)."""
    opened, closed = [], []
    for pair, reasons in found.items():
        codes = _codes(reasons)
        row = rows.pop(pair, None)
        if row is None:
            DuplicateCandidate.create(beneficiary_a=pair[0], beneficiary_b=pair[1], reason_codes=codes)
            opened.append(pair)
        elif row.reason_codes != codes:
            row.reason_codes = codes
            row.save()
    for pair, row in rows.items():
        # A dismissed pair is kept whatever changes: the reviewer's verdict stands.
        if row.status == "open":
            row.delete_instance()
            closed.append(pair)
    return opened, closed


def _involving(beneficiary_id: int):
    return ((DuplicateCandidate.beneficiary_a == beneficiary_id) |
            (DuplicateCandidate.beneficiary_b == beneficiary_id))


def refresh(beneficiary: Beneficiary) -> list[Candidate]:
    """Check one saved beneficiary against everyone; return the candidate pairs this check opened."""
    found = _pairs(beneficiary.id)
    with db.atomic():
        rows = {(c.beneficiary_a_id, c.beneficiary_b_id): c
                for c in DuplicateCandidate.select().where(_involving(beneficiary.id))}
        opened, closed = _store(found, rows)
        if opened or closed:
            audit.record("duplicate_check", beneficiary, details={"opened": opened, "closed": closed})
    if not opened:
        return []
    opened = set(opened)
    return [c for c in candidates_for(beneficiary) if (c.a.id, c.b.id) in opened]


def rescan() -> int:
    """Check every beneficiary against everyone (after an import or generated data); return the open count."""
    found = _pairs()
    with db.atomic():
        rows = {(c.beneficiary_a_id, c.beneficiary_b_id): c for c in DuplicateCandidate.select()}
        opened, closed = _store(found, rows)
        if opened or closed:
            audit.record("duplicate_check", model="DuplicateCandidate",
                         details={"opened": len(opened), "closed": len(closed)})
    return open_candidate_count()


# ---- listing -------------------------------------------------------------------
def _joined():
    a, b = Beneficiary.alias(), Beneficiary.alias()
    return (DuplicateCandidate.select(DuplicateCandidate, a, b)
            .join(a, on=(DuplicateCandidate.beneficiary_a == a.id), attr="beneficiary_a")
            .switch(DuplicateCandidate)
            .join(b, on=(DuplicateCandidate.beneficiary_b == b.id), attr="beneficiary_b"))


def _candidate(row: DuplicateCandidate) -> Candidate:
    return Candidate(row.id, row.beneficiary_a, row.beneficiary_b, tuple(row.reasons), row.status)


def open_candidate_count(beneficiary_id: int | None = None) -> int:
    """Return how many pairs wait for review (of one beneficiary, when given)."""
    query = DuplicateCandidate.select().where(DuplicateCandidate.status == "open")
    if beneficiary_id is not None:
        query = query.where(_involving(beneficiary_id))
    return query.count()


def candidates(limit: int | None = None, offset: int = 0, beneficiary_id: int | None = None) -> list[Candidate]:
    """Return the pairs waiting for review, newest first, both beneficiaries loaded in the same query."""
    query = _joined().where(DuplicateCandidate.status == "open").order_by(DuplicateCandidate.id.desc())
    if beneficiary_id is not None:
        query = query.where(_involving(beneficiary_id))
    if limit:
        query = query.limit(limit).offset(offset)
    return [_candidate(row) for row in query]


def candidates_for(beneficiary: Beneficiary) -> list[Candidate]:
    """Return the open pairs one beneficiary is part of."""
    return candidates(beneficiary_id=beneficiary.id)


def get_candidate(candidate_id: int) -> Candidate | None:
    """Return one stored pair (open or dismissed), or None."""
    row = _joined().where(DuplicateCandidate.id == candidate_id).first()
    return _candidate(row) if row is not None else None


def request_counts(beneficiary_ids) -> dict[int, int]:
    """Return {beneficiary id: number of requests} in one query, for choosing which file to keep."""
    ids = list(beneficiary_ids)
    if not ids:
        return {}
    query = (ServiceRequest.select(ServiceRequest.beneficiary, fn.COUNT(ServiceRequest.id))
             .where(ServiceRequest.beneficiary.in_(ids)).group_by(ServiceRequest.beneficiary).tuples())
    return dict(query)


def shared_mobiles() -> list[SharedMobile]:
    """Return the mobiles marked shared, newest first."""
    return list(SharedMobile.select().order_by(SharedMobile.id.desc()))


# ---- the reviewer's verdicts ---------------------------------------------------
def _require(actor, capability: str, message: str) -> None:
    if actor is None or not can(actor.role, capability):
        raise PermissionDenied(message)


def _open_row(candidate_id: int) -> DuplicateCandidate:
    row = DuplicateCandidate.get_or_none(DuplicateCandidate.id == candidate_id)
    if row is None or row.status != "open":
        raise ValidationError(N_("This pair is no longer waiting for review."))
    return row


def dismiss(candidate_id: int, actor) -> DuplicateCandidate:
    """Record that the pair is two different people; it is never proposed again."""
    _require(actor, "duplicates.review", N_("Your role cannot review possible duplicates."))
    with db.atomic():
        row = _open_row(candidate_id)
        before = audit.snapshot(row)
        row.status, row.reviewed_by, row.reviewed_at = "dismissed", actor, utcnow()
        row.save()
        audit.record("dismiss_duplicate", row, changes=audit.diff(before, audit.snapshot(row)), actor=actor.username)
    return row


def mark_shared_mobile(mobile: str, actor, note: str | None = None) -> int:
    """Mark a mobile as shared by several people, so it pairs nobody; return the pairs it closed."""
    _require(actor, "duplicates.review", N_("Your role cannot review possible duplicates."))
    mobile = normalize_mobile(mobile)
    if not mobile:
        raise ValidationError(N_("Enter the mobile to mark as shared."), field="mobile")
    a, b = Beneficiary.alias(), Beneficiary.alias()
    with db.atomic():
        if SharedMobile.select().where(SharedMobile.mobile == mobile).exists():
            raise ValidationError(N_("This mobile is already marked as shared."), field="mobile")
        shared = SharedMobile.create(mobile=mobile, note=clean_text(note) or None)
        rows = list(DuplicateCandidate.select(DuplicateCandidate)
                    .join(a, on=(DuplicateCandidate.beneficiary_a == a.id)).switch(DuplicateCandidate)
                    .join(b, on=(DuplicateCandidate.beneficiary_b == b.id))
                    .where((a.mobile == mobile) & (b.mobile == mobile)))
        closed, narrowed = [], []
        for row in rows:
            reasons = [code for code in row.reasons if code != "mobile"]
            pair = [row.beneficiary_a_id, row.beneficiary_b_id]
            if not reasons and row.status == "open":
                row.delete_instance()
                closed.append(pair)
            else:
                row.reason_codes = _codes(reasons)
                row.save()
                narrowed.append(pair)
        audit.record("shared_mobile", shared, changes=audit.diff(None, audit.snapshot(shared)),
                     details={"closed": closed, "narrowed": narrowed}, actor=actor.username)
    return len(closed)


def unmark_shared_mobile(shared_id: int, actor) -> SharedMobile:
    """Undo a shared-mobile mark: the beneficiaries on that mobile are paired again."""
    _require(actor, "duplicates.review", N_("Your role cannot review possible duplicates."))
    with db.atomic():
        shared = SharedMobile.get_or_none(SharedMobile.id == shared_id)
        if shared is None:
            raise ValidationError(N_("This mobile is not marked as shared."))
        audit.record("delete", shared, changes=audit.diff(audit.snapshot(shared), None), actor=actor.username)
        shared.delete_instance()
        for beneficiary in Beneficiary.select().where(Beneficiary.mobile == shared.mobile):
            refresh(beneficiary)
    return shared


# ---- merging -------------------------------------------------------------------
def referencing_fields() -> list:
    """Return every foreign key to Beneficiary, read from the model metadata so later tables are covered.

    The candidate pairs are left out: merge() rewrites them itself (a moved pair may become
    (kept, kept) or repeat one that exists).
    """
    return [fk for fk in Beneficiary._meta.backrefs if fk.model is not DuplicateCandidate]


def merge_plan(merged: Beneficiary) -> dict[str, int]:
    """Count, per table, the rows that a merge would move off this beneficiary."""
    plan: dict[str, int] = {}
    for fk in referencing_fields():
        n = fk.model.select().where(fk == merged.id).count()
        if n:
            plan[fk.model.__name__] = plan.get(fk.model.__name__, 0) + n
    return plan


def fillable_fields(kept: Beneficiary, merged: Beneficiary) -> list[str]:
    """Return the kept beneficiary's empty fields that the merge fills from the merged one."""
    return [f.name for f in Beneficiary._meta.sorted_fields
            if f.name not in NEVER_FILLED and getattr(kept, f.name) in (None, "")
            and getattr(merged, f.name) not in (None, "")]


def open_request_clashes(kept: Beneficiary, merged: Beneficiary) -> list[tuple[ServiceRequest, ServiceRequest]]:
    """Return pairs of open requests for the same service, one on each file (a merge would break the rule)."""
    def open_by_service(beneficiary):
        query = ServiceRequest.select().where((ServiceRequest.beneficiary == beneficiary.id)
                                              & ServiceRequest.status.in_(OPEN_STATUSES))
        return {r.service_id: r for r in query}
    mine = open_by_service(kept)
    return [(mine[service], theirs) for service, theirs in open_by_service(merged).items() if service in mine]


def merge(kept: Beneficiary, merged: Beneficiary, actor) -> MergeResult:
    """Move every row of the merged beneficiary onto the kept one, fill the kept one's gaps, delete the merged one.

    One transaction: a row that cannot move (a unique rule of its table) undoes the whole merge.
    One audit entry on the kept beneficiary lists the moved rows per table and holds the merged
    beneficiary's snapshot.
    """
    _require(actor, "duplicates.merge", N_("Only a manager or an administrator merges beneficiaries."))
    if kept.id == merged.id:
        raise ValidationError(N_("Choose two different beneficiaries to merge."))
    # Requests move unchanged onto the file kept: the rules table's "merge" exemption.
    with db.atomic(), workflow.exempt("merge"):
        kept = Beneficiary.get_or_none(Beneficiary.id == kept.id)
        merged = Beneficiary.get_or_none(Beneficiary.id == merged.id)
        if kept is None or merged is None:
            raise ValidationError(N_("One of the two beneficiaries no longer exists."))
        # The kept file would hold two open requests for one service (services.fairness).
        clashes = open_request_clashes(kept, merged)
        if clashes:
            raise ValidationError(N_("Both have an open request for the same service (%(requests)s): "
                                     "close or withdraw one before merging."),
                                  requests=", ".join(f"{x.number} / {y.number}" for x, y in clashes))
        merged_snapshot = audit.snapshot(merged)
        moved = {}
        for fk in referencing_fields():
            model = fk.model
            ids = [row[0] for row in model.select(model._meta.primary_key).where(fk == merged.id).tuples()]
            if not ids:
                continue
            values = {fk: kept.id}
            for name, value in (("updated_at", utcnow()), ("updated_by", actor.username)):
                if name in model._meta.fields:
                    values[model._meta.fields[name]] = value
            # A request's form opened before the merge must not put the merged beneficiary back.
            values.update(concurrency.version_bump(model))
            try:
                with db.atomic():
                    model.update(values).where(fk == merged.id).execute()
            except IntegrityError:
                raise ValidationError(N_("The records of %(table)s cannot move: the kept beneficiary already has "
                                         "the same ones. Nothing was merged."), table=model.__name__)
            moved[f"{model.__name__}.{fk.name}"] = ids
        pairs = _move_pairs(kept, merged, actor)
        before = audit.snapshot(kept)
        filled = fillable_fields(kept, merged)
        for name in filled:
            setattr(kept, name, getattr(merged, name))
        if filled:
            kept.save()
        # Nothing points at it any more; a reference the loop missed would fail here and undo everything.
        merged.delete_instance()
        audit.record("merge", kept, changes=audit.diff(before, audit.snapshot(kept)),
                     details={"merged": merged_snapshot, "moved": moved, "duplicate_pairs": pairs},
                     actor=actor.username)
        refresh(kept)
    return MergeResult(kept=kept, merged_id=merged_snapshot["id"], merged_reference=merged_snapshot["reference"],
                       moved=moved, filled=filled)


def _move_pairs(kept: Beneficiary, merged: Beneficiary, actor) -> dict:
    """Drop the merged beneficiary's pairs; a "not a duplicate" verdict carries over to the kept one."""
    carried, removed = [], []
    for row in list(DuplicateCandidate.select().where(_involving(merged.id))):
        other = row.beneficiary_b_id if row.beneficiary_a_id == merged.id else row.beneficiary_a_id
        if row.status == "dismissed" and other != kept.id:
            # Not the same person as the merged one, so not the same person as the kept one.
            low, high = sorted((kept.id, other))
            target = DuplicateCandidate.get_or_none(beneficiary_a=low, beneficiary_b=high)
            if target is None:
                DuplicateCandidate.create(beneficiary_a=low, beneficiary_b=high, reason_codes=row.reason_codes,
                                          status="dismissed", reviewed_by=row.reviewed_by_id,
                                          reviewed_at=row.reviewed_at)
            elif target.status == "open":
                target.status, target.reviewed_by, target.reviewed_at = "dismissed", row.reviewed_by_id, row.reviewed_at
                target.save()
            carried.append(other)
        removed.append(row.id)
        row.delete_instance()
    return {"removed": removed, "dismissals_carried_to": carried}
