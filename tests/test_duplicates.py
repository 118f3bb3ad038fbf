"""Fairness and fraud prevention (P6.6): possible duplicates, their review and merge, one open request per
service, and the minimum interval between approvals."""
import datetime
import json

import pytest
from conftest import make_beneficiary, make_request
from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)
from playhouse.test_utils import count_queries
from stdnum import luhn

from models import (
    AuditLog,
    BaseModel,
    Beneficiary,
    Document,
    DocumentType,
    DuplicateCandidate,
    HouseholdMember,
    Referral,
    Service,
    ServiceRequest,
    SharedMobile,
    User,
    db,
    utcnow,
)
from services import duplicates, fairness
from services.errors import PermissionDenied, ValidationError
from services.requests import normalize_request

BIRTH = datetime.date(1990, 5, 17)


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def national_id(n: int) -> str:
    """Return a valid national ID (Luhn check digit) made from a small number."""
    body = f"1{n:08d}"
    return body + luhn.calc_check_digit(body)


def person(n: int, **fields) -> Beneficiary:
    """Register beneficiary number n (own ID, no mobile) and check it for duplicates, as the screen does."""
    data = dict(full_name=f"مستفيد رقم {n}", id_number=national_id(n), mobile=None)
    data.update(fields)
    b = make_beneficiary(**data)
    duplicates.refresh(b)
    return b


def pair_reasons(x: Beneficiary, y: Beneficiary) -> tuple[str, ...] | None:
    """Return the reasons of the open pair x–y, or None when it is not proposed."""
    for c in duplicates.candidates():
        if {c.a.id, c.b.id} == {x.id, y.id}:
            return c.reasons
    return None


# ---- finding (P6.6) -----------------------------------------------------------------
def test_new_beneficiary_whose_id_is_a_household_member_of_another_is_proposed(app):
    """P6.6: someone listed on another's family card registers on their own."""
    head = person(1)
    HouseholdMember.create(beneficiary=head, name="ابن", relation="ابن", id_type="national_id",
                           id_number=national_id(2))
    son = person(2)
    assert pair_reasons(head, son) == ("household_id",)


def test_new_household_member_who_is_already_a_beneficiary_is_proposed(app):
    """P6.6: the other direction: a household member added later is already registered."""
    son = person(2)
    head = person(1)
    assert pair_reasons(head, son) is None
    HouseholdMember.create(beneficiary=head, name="ابن", relation="ابن", id_type="national_id",
                           id_number=national_id(2))
    found = duplicates.refresh(head)
    assert [(c.a.id, c.b.id, c.reasons) for c in found] == [(son.id, head.id, ("household_id",))]


def test_same_mobile_is_proposed(app):
    first = person(1, mobile="0551234567")
    second = person(2, mobile="+966551234567")
    assert pair_reasons(first, second) == ("mobile",)


@pytest.mark.parametrize("typed, other", [
    ("عبد الله أحمد الغامدي", "عبدالله احمد الغامدي"),
    ("عبدُ اللهِ أحمد الغامدي", "عبـــدالله إحمد الغامدى"),
    ("فاطمة الزهراء", "فاطمه الزهراء"),
    ("آمنة مصطفى", "امنه مصطفي"),
])
def test_same_name_in_another_spelling_and_same_birth_date_is_proposed(app, typed, other):
    """P6.6: hamza forms, taa marbuta, alif maqsura, tatweel, diacritics and "عبد الله" are one name."""
    first = person(1, full_name=typed, birth_date=BIRTH)
    second = person(2, full_name=other, birth_date=BIRTH)
    assert pair_reasons(first, second) == ("name_birth",)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b",
                                       "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
                                       "\ufeff"])
def test_an_invisible_character_inside_the_name_does_not_hide_a_duplicate(app, invisible):
    """Issue 15 item 5: zero-width and bidi control characters are not part of the name's search key."""
    first = person(1, full_name="عبد الله أحمد", birth_date=BIRTH)
    second = person(2, full_name=f"عبد ال{invisible}له أح{invisible}مد", birth_date=BIRTH)
    assert pair_reasons(first, second) == ("name_birth",)


def test_same_name_with_another_birth_date_or_none_is_not_proposed(app):
    first = person(1, full_name="عبد الله أحمد", birth_date=BIRTH)
    person(2, full_name="عبدالله احمد", birth_date=BIRTH + datetime.timedelta(days=1))
    person(3, full_name="عبدالله احمد")
    assert duplicates.candidates() == []
    assert duplicates.open_candidate_count() == 0
    assert first.name_key == "عبدالله احمد"


def test_all_reasons_of_a_pair_are_listed_once(app):
    first = person(1, full_name="سالم علي", birth_date=BIRTH, mobile="0501112233")
    second = person(2, full_name="سالم على", birth_date=BIRTH, mobile="0501112233")
    assert pair_reasons(first, second) == ("mobile", "name_birth")
    assert duplicates.open_candidate_count() == 1


def test_pair_closes_when_an_edit_removes_the_reason(app):
    first = person(1, mobile="0501112233")
    second = person(2, mobile="0501112233")
    second.mobile = "+966501112244"
    second.save()
    duplicates.refresh(second)
    assert pair_reasons(first, second) is None


def test_rescan_finds_pairs_registered_without_a_check(app):
    """Imports and generated data register without the screen: one rescan finds their pairs."""
    first = make_beneficiary(full_name="أ", id_number=national_id(1), mobile="0501112233")
    second = make_beneficiary(full_name="ب", id_number=national_id(2), mobile="0501112233")
    assert duplicates.open_candidate_count() == 0
    assert duplicates.rescan() == 1
    assert pair_reasons(first, second) == ("mobile",)


# ---- the reviewer's verdicts --------------------------------------------------------
def test_not_a_duplicate_stops_the_pair_for_good(app, staff):
    """P6.6: a pair is reviewed once; saving either beneficiary again does not bring it back."""
    first = person(1, mobile="0501112233")
    second = person(2, mobile="0501112233")
    (candidate,) = duplicates.candidates()
    duplicates.dismiss(candidate.id, staff["researcher"])
    duplicates.refresh(first)
    duplicates.refresh(second)
    assert duplicates.open_candidate_count() == 0
    row = DuplicateCandidate.get()
    assert (row.status, row.reviewed_by_id) == ("dismissed", staff["researcher"].id)
    entry = AuditLog.get(AuditLog.action == "dismiss_duplicate")
    assert (entry.actor, entry.record_id) == ("researcher", row.id)
    assert json.loads(entry.changes)["status"] == ["open", "dismissed"]


def test_volunteer_cannot_dismiss(app, staff):
    person(1, mobile="0501112233")
    person(2, mobile="0501112233")
    with pytest.raises(PermissionDenied):
        duplicates.dismiss(duplicates.candidates()[0].id, staff["volunteer"])
    assert duplicates.open_candidate_count() == 1


def test_shared_mobile_stops_mobile_pairs_but_not_name_pairs(app, staff):
    """P6.6: expatriate workers sharing one phone are not paired for it; a same name and birth still is."""
    worker1 = person(1, full_name="محمد رحيم", birth_date=BIRTH, mobile="0501112233")
    worker2 = person(2, full_name="محمد رحيم", birth_date=BIRTH, mobile="0501112233")
    worker3 = person(3, full_name="كريم الدين", mobile="0501112233")
    assert duplicates.open_candidate_count() == 3
    closed = duplicates.mark_shared_mobile("050 111 2233", staff["manager"], note="سكن العمال")
    assert closed == 2
    assert pair_reasons(worker1, worker2) == ("name_birth",)
    assert pair_reasons(worker1, worker3) is None
    person(4, mobile="0501112233")
    assert duplicates.open_candidate_count() == 1
    entry = AuditLog.get(AuditLog.action == "shared_mobile")
    assert json.loads(entry.details)["closed"] == [[worker1.id, worker3.id], [worker2.id, worker3.id]]


def test_shared_mark_can_be_undone(app, staff):
    first = person(1, mobile="0501112233")
    second = person(2, mobile="0501112233")
    duplicates.mark_shared_mobile(first.mobile, staff["manager"])
    assert duplicates.open_candidate_count() == 0
    with pytest.raises(ValidationError):
        duplicates.mark_shared_mobile(first.mobile, staff["manager"])
    duplicates.unmark_shared_mobile(SharedMobile.get().id, staff["manager"])
    assert pair_reasons(first, second) == ("mobile",)


# ---- merging ------------------------------------------------------------------------
def _value(field):
    """Return a plausible value for a required column of a table the test does not know."""
    if field.choices:
        return field.choices[0][0]
    for kinds, value in (((CharField, TextField), "x"), ((BooleanField,), False), ((IntegerField,), 1),
                         ((DecimalField, FloatField), 1), ((DateTimeField,), utcnow()),
                         ((DateField,), datetime.date.today())):
        if isinstance(field, kinds):
            return value
    pytest.fail(f"the merge test cannot fill {field.model.__name__}.{field.name}: add a row factory for it")


def _row_pointing_at(model, beneficiary, known):
    """Create one row of any table pointing at the beneficiary, required columns filled by type."""
    data = {}
    for field in model._meta.sorted_fields:
        if field is model._meta.primary_key:
            continue
        if isinstance(field, ForeignKeyField):
            if field.rel_model is Beneficiary:
                data[field.name] = beneficiary
            elif not field.null:
                data[field.name] = (known[field.rel_model] if field.rel_model in known
                                    else _row_pointing_at(field.rel_model, beneficiary, known))
        elif not field.null and field.default is None:
            data[field.name] = _value(field)
    return model.create(**data)


def test_merge_moves_the_rows_of_every_table_pointing_at_a_beneficiary(app, staff, service):
    """P6.6: every foreign key to Beneficiary in the model metadata is covered, tables added later included."""
    kept = person(1, mobile="0501112233", city=None)
    merged = person(2, mobile="0501112233", email="merged@example.org", birth_date=BIRTH, city="جدة", language="en")
    other_service = Service.create(name_ar="كسوة", name_en="Clothing")
    request = make_request(merged, other_service)
    known = {User: staff["manager"], Service: service, ServiceRequest: request,
             DocumentType: DocumentType.create(name_ar="الهوية", name_en="ID card")}
    rows = {HouseholdMember: HouseholdMember.create(beneficiary=merged, name="زوجة", relation="زوجة"),
            ServiceRequest: request,
            Document: Document.create(beneficiary=merged, document_type=known[DocumentType], original_name="id.png",
                                      stored_name="abc.png", content_type="image/png", size=1, sha256="0" * 64),
            Referral: Referral.create(beneficiary=merged, reason="غير واضح", referred_by=staff["volunteer"])}
    fields = duplicates.referencing_fields()
    for fk in fields:
        if fk.model not in rows:
            rows[fk.model] = _row_pointing_at(fk.model, merged, known)
    assert {fk.model for fk in fields} == {m for m in Beneficiary._meta.backrefs.values()} - {DuplicateCandidate}

    result = duplicates.merge(kept, merged, staff["manager"])

    assert set(result.moved) == {f"{fk.model.__name__}.{fk.name}" for fk in fields}
    for fk in fields:
        row = fk.model.get_by_id(rows[fk.model].get_id())
        assert getattr(row, f"{fk.name}_id") == kept.id, fk
    assert not Beneficiary.select().where(Beneficiary.id == merged.id).exists()
    kept = Beneficiary.get_by_id(kept.id)
    # Empty fields of the kept one are filled; its own values and identity stay.
    assert (kept.email, kept.birth_date, kept.id_number) == ("merged@example.org", BIRTH, national_id(1))
    assert (kept.city, kept.language) == ("جدة", "ar")
    assert duplicates.open_candidate_count() == 0


def test_merge_writes_one_audit_entry_with_the_moved_rows_and_the_merged_snapshot(app, staff, service):
    kept = person(1, mobile="0501112233")
    merged = person(2, mobile="0501112233", email="merged@example.org")
    request = make_request(merged, service)
    before = AuditLog.select().where(AuditLog.action == "merge").count()
    duplicates.merge(kept, merged, staff["admin"])
    (entry,) = AuditLog.select().where(AuditLog.action == "merge")
    assert before == 0
    details = json.loads(entry.details)
    assert (entry.model, entry.record_id) == ("Beneficiary", kept.id)
    assert details["moved"]["ServiceRequest.beneficiary"] == [request.id]
    assert details["merged"]["reference"] == merged.reference
    assert details["merged"]["id_number"] == national_id(2)
    assert json.loads(entry.changes)["email"] == [None, "merged@example.org"]


@pytest.fixture
def probe_table(app):
    """A table added later with a unique rule per beneficiary, to make a merge fail half way."""
    class MergeProbe(BaseModel):
        beneficiary = ForeignKeyField(Beneficiary, backref="+", on_delete="RESTRICT")
        code = CharField(max_length=10)

        class Meta:
            table_name = "test_merge_probe"
            indexes = ((("beneficiary", "code"), True),)

    db.create_tables([MergeProbe])
    yield MergeProbe
    db.drop_tables([MergeProbe])
    # Declaring the class registered its foreign key on Beneficiary for every later test: take it back.
    MergeProbe._meta.remove_ref(MergeProbe.beneficiary)


def test_merge_is_one_transaction_a_row_that_cannot_move_undoes_everything(app, staff, service, probe_table):
    """P6.6: a unique rule breaking half way leaves every row where it was."""
    kept = person(1, mobile="0501112233")
    merged = person(2, mobile="0501112233", email="merged@example.org")
    request = make_request(merged, service)
    member = HouseholdMember.create(beneficiary=merged, name="زوجة", relation="زوجة")
    probe_table.create(beneficiary=kept, code="A")
    probe_table.create(beneficiary=merged, code="A")
    with pytest.raises(ValidationError) as refused:
        duplicates.merge(kept, merged, staff["manager"])
    assert "MergeProbe" in str(refused.value)
    assert ServiceRequest.get_by_id(request.id).beneficiary_id == merged.id
    assert HouseholdMember.get_by_id(member.id).beneficiary_id == merged.id
    assert Beneficiary.get_by_id(merged.id).email == "merged@example.org"
    assert Beneficiary.get_by_id(kept.id).email is None
    assert duplicates.open_candidate_count() == 1
    assert not AuditLog.select().where(AuditLog.action == "merge").exists()


def test_merge_is_refused_when_both_have_an_open_request_for_the_same_service(app, staff, service):
    """P6.6: the merged file would hold two open requests for one service."""
    kept = person(1, mobile="0501112233")
    merged = person(2, mobile="0501112233")
    mine, theirs = make_request(kept, service), make_request(merged, service)
    with pytest.raises(ValidationError) as refused:
        duplicates.merge(kept, merged, staff["manager"])
    assert f"{mine.number} / {theirs.number}" in str(refused.value)
    assert Beneficiary.select().count() == 2


def test_researcher_cannot_merge(app, staff):
    kept, merged = person(1, mobile="0501112233"), person(2, mobile="0501112233")
    with pytest.raises(PermissionDenied):
        duplicates.merge(kept, merged, staff["researcher"])
    assert Beneficiary.select().count() == 2


def test_not_a_duplicate_verdict_carries_over_to_the_kept_beneficiary(app, staff):
    kept = person(1, full_name="سالم", birth_date=BIRTH)
    merged = person(2, mobile="0501112233")
    neighbour = person(3, full_name="سالم", birth_date=BIRTH, mobile="0501112233")
    dismissed = next(c for c in duplicates.candidates() if {c.a.id, c.b.id} == {merged.id, neighbour.id})
    duplicates.dismiss(dismissed.id, staff["manager"])
    open_pair = next(c for c in duplicates.candidates() if {c.a.id, c.b.id} == {kept.id, neighbour.id})
    # The kept and merged beneficiaries are not a candidate pair: any two may be merged.
    duplicates.merge(kept, merged, staff["manager"])
    (row,) = DuplicateCandidate.select()
    assert (row.id, row.status) == (open_pair.id, "dismissed")
    assert duplicates.open_candidate_count() == 0


# ---- listing stays fast --------------------------------------------------------------
def test_listing_candidates_takes_one_query_for_3_or_15_pairs(app):
    """The list loads both beneficiaries of each pair in its own query (no query per row)."""
    def queries():
        with count_queries() as counter:
            rows = duplicates.candidates(limit=50)
            [(c.a.full_name, c.b.reference) for c in rows]
        return len(rows), counter.count

    for n in range(3):
        person(n, mobile="0501112233")
    small = queries()
    for n in range(3, 6):
        person(n, mobile="0501112233")
    large = queries()
    assert (small[0], large[0]) == (3, 15)
    assert small[1] == large[1] == 1


def test_review_page_queries_do_not_grow_with_the_pairs(client, login_as):
    login_as("manager")

    def page_queries():
        with count_queries() as counter:
            assert client.get("/admin/duplicates/").status_code == 200
        return counter.count

    person(1, mobile="0501112233")
    person(2, mobile="0501112233")
    one = page_queries()
    for n in range(3, 8):
        person(n, mobile="0501112233")
    assert duplicates.open_candidate_count() == 21
    assert page_queries() == one


# ---- one open request per service (P6.6) ---------------------------------------------
def test_second_open_request_for_the_same_service_is_refused_naming_the_first(app, service):
    b = make_beneficiary()
    first = make_request(b, service, status="under_verification")
    with pytest.raises(ValidationError) as refused:
        normalize_request(ServiceRequest(beneficiary=b, service=service, channel="phone"))
    assert first.number in str(refused.value)
    assert refused.value.field == "service"


def test_open_request_rule_allows_other_services_closed_requests_and_the_request_itself(app, service):
    b = make_beneficiary()
    for status in ("closed", "rejected", "withdrawn", "approved", "delivered"):
        make_request(b, service, status=status)
    normalize_request(ServiceRequest(beneficiary=b, service=service, channel="phone"))
    current = make_request(b, service)
    normalize_request(current)
    normalize_request(ServiceRequest(beneficiary=b, service=Service.create(name_ar="كسوة", name_en="Clothing"),
                                     channel="phone"))


def test_second_open_request_through_the_screen_gets_the_message_not_an_error(client, login_as, service):
    b = make_beneficiary()
    first = make_request(b, service)
    login_as("volunteer")
    response = client.post("/admin/servicerequest/new/", data={"beneficiary": b.id, "service": service.id,
                                                               "channel": "phone"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This beneficiary already has an open request for this service" in html
    assert first.number in html
    assert ServiceRequest.select().count() == 1


# ---- minimum interval between approvals (P6.6) ---------------------------------------
def _approved(b, service, days_ago, **fields):
    return make_request(b, service, status="approved", decision="approved",
                        decided_at=utcnow() - datetime.timedelta(days=days_ago), **fields)


def test_request_inside_the_interval_is_flagged_with_the_previous_approval(app, service):
    """P6.6: a service's minimum interval between two approvals flags a request decided sooner."""
    service.min_approval_interval_days = 30
    service.save()
    b = make_beneficiary()
    _approved(b, service, days_ago=60)
    recent = _approved(b, service, days_ago=10)
    make_request(b, service, status="rejected", decision="rejected", decided_at=utcnow() - datetime.timedelta(days=2))
    new = make_request(b, service, status="under_evaluation")
    assert fairness.previous_approval_within_interval(new) == recent


def test_interval_counts_riyadh_days(app, service):
    """With 30 days, an approval on the 1st allows the next from the 31st (Riyadh dates)."""
    service.min_approval_interval_days = 30
    service.save()
    b = make_beneficiary()
    # 09:00 UTC is noon in Riyadh: no date boundary nearby.
    previous = make_request(b, service, status="approved", decision="approved",
                            decided_at=datetime.datetime(2026, 1, 1, 9, 0))
    on_30th = make_request(b, service, status="approved", decision="approved",
                           decided_at=datetime.datetime(2026, 1, 30, 9, 0))
    on_31st = make_request(b, service, status="approved", decision="approved",
                           decided_at=datetime.datetime(2026, 1, 31, 9, 0))
    ServiceRequest.update(decision=None).where(ServiceRequest.id == on_30th.id).execute()
    assert fairness.previous_approval_within_interval(ServiceRequest.get_by_id(on_30th.id)) == previous
    assert fairness.previous_approval_within_interval(on_31st) is None


def test_no_interval_set_or_other_beneficiary_is_never_flagged(app, service):
    b = make_beneficiary()
    _approved(b, service, days_ago=1)
    assert fairness.previous_approval_within_interval(make_request(b, service)) is None
    service.min_approval_interval_days = 30
    service.save()
    other = make_beneficiary(full_name="سالم", id_number=national_id(9))
    assert fairness.previous_approval_within_interval(make_request(other, service)) is None


def test_service_form_offers_the_interval_and_refuses_a_zero(client, login_as):
    login_as("manager")
    html = client.get("/admin/service/new/").get_data(as_text=True)
    assert "Minimum days between two approvals for one beneficiary" in html
    data = {"name_ar": "سلة", "name_en": "Basket", "decision_days": "14", "min_approval_interval_days": "0"}
    html = client.post("/admin/service/new/", data=data).get_data(as_text=True)
    assert "The minimum days between two approvals must be between 1 and 3650" in html
    assert not Service.select().where(Service.name_ar == "سلة").exists()
    client.post("/admin/service/new/", data=dict(data, min_approval_interval_days="90"))
    assert Service.get(Service.name_ar == "سلة").min_approval_interval_days == 90


# ---- the review screen over HTTP ----------------------------------------------------------
@pytest.fixture
def twins(app):
    """Two registrations on one mobile: one open pair."""
    first = person(1, full_name="ريما خان", mobile="0501112233", birth_date=BIRTH)
    second = person(2, full_name="ريما خان", mobile="0501112233", email="rima@example.org")
    return first, second, duplicates.candidates()[0]


@pytest.mark.parametrize("role, status", [("admin", 200), ("manager", 200), ("researcher", 200),
                                          ("volunteer", 403), ("board", 403)])
def test_review_page_is_open_to_reviewers_only(client, login_as, twins, role, status):
    login_as(role)
    response = client.get("/admin/duplicates/")
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        assert twins[0].reference in html and twins[1].reference in html
        assert "Same mobile" in html and "050 111 2233" in html
        assert ("Merge into this one" in html) is (role != "researcher")


def test_anonymous_is_sent_to_login(client, twins):
    response = client.get("/admin/duplicates/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_not_a_duplicate_through_the_screen(client, login_as, twins):
    login_as("researcher")
    response = client.post(f"/admin/duplicates/{twins[2].id}/dismiss", follow_redirects=True)
    assert "The pair was marked as not a duplicate." in response.get_data(as_text=True)
    assert duplicates.open_candidate_count() == 0
    assert "No possible duplicates are waiting for review." in client.get("/admin/duplicates/").get_data(as_text=True)


def test_shared_mobile_through_the_screen(client, login_as, twins):
    login_as("researcher")
    html = client.post(f"/admin/duplicates/{twins[2].id}/shared-mobile", data={"note": "سكن عمال"},
                       follow_redirects=True).get_data(as_text=True)
    assert "The mobile was marked as shared" in html
    assert (SharedMobile.get().mobile, SharedMobile.get().note) == ("+966501112233", "سكن عمال")
    assert "050 111 2233" in html and "No longer shared" in html
    assert duplicates.open_candidate_count() == 0


def test_merge_through_the_screen_shows_what_moves_then_merges(client, login_as, twins, service):
    first, second, candidate = twins
    make_request(second, service)
    login_as("manager")
    html = client.get(f"/admin/duplicates/{candidate.id}/merge?keep={first.id}").get_data(as_text=True)
    assert "Service request" in html and "Email" in html
    response = client.post(f"/admin/duplicates/{candidate.id}/merge/confirm", data={"keep": first.id})
    assert response.status_code == 302
    assert f"/admin/beneficiary/details/?id={first.id}" in response.headers["Location"]
    assert ServiceRequest.get().beneficiary_id == first.id
    assert Beneficiary.get_by_id(first.id).email == "rima@example.org"
    assert not Beneficiary.select().where(Beneficiary.id == second.id).exists()


def test_refused_merge_through_the_screen_is_explained(client, login_as, twins, service):
    first, second, candidate = twins
    make_request(first, service)
    make_request(second, service)
    login_as("manager")
    page = client.get(f"/admin/duplicates/{candidate.id}/merge?keep={second.id}").get_data(as_text=True)
    assert "Both have an open request for the same service" in page
    html = client.post(f"/admin/duplicates/{candidate.id}/merge/confirm", data={"keep": second.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "close or withdraw one before merging" in html
    assert Beneficiary.select().count() == 2


@pytest.mark.parametrize("role", ["researcher", "volunteer", "board"])
def test_roles_that_may_not_merge_get_403(client, login_as, twins, role):
    login_as(role)
    assert client.get(f"/admin/duplicates/{twins[2].id}/merge").status_code == 403
    assert client.post(f"/admin/duplicates/{twins[2].id}/merge/confirm", data={"keep": twins[0].id}).status_code == 403
    assert Beneficiary.select().count() == 2


def test_registration_warns_of_possible_duplicates_with_links(client, login_as):
    """P6.6: possible duplicates are named at registration and linked to the review page."""
    existing = person(1, mobile="0501112233")
    login_as("manager")
    form = {"full_name": "خالد", "id_type": "national_id", "id_number": national_id(2), "nationality": "SA",
            "language": "ar", "mobile": "0501112233", "district": "بحرة"}
    html = client.post("/admin/beneficiary/new/", data=form, follow_redirects=True).get_data(as_text=True)
    new = Beneficiary.get(Beneficiary.full_name == "خالد")
    assert "Possible duplicates of this beneficiary" in html
    assert existing.reference in html and "Same mobile" in html
    assert f'<a href="/admin/duplicates/?beneficiary={new.id}">Review them</a>' in html
    assert f'<a href="/admin/beneficiary/details/?id={existing.id}">' in html
    assert duplicates.open_candidate_count() == 1


def test_volunteer_registration_warning_names_the_duplicates_without_the_review_link(client, login_as):
    person(1, full_name="<b>سالم</b>", mobile="0501112233")
    login_as("volunteer")
    form = {"full_name": "خالد", "id_type": "national_id", "id_number": national_id(2), "nationality": "SA",
            "language": "ar", "mobile": "0501112233", "district": "بحرة"}
    html = client.post("/admin/beneficiary/new/", data=form, follow_redirects=True).get_data(as_text=True)
    assert "A reviewer will check them." in html
    assert "/admin/duplicates/" not in html
    assert "&lt;b&gt;سالم&lt;/b&gt;" in html and "<b>سالم</b>" not in html


def test_masked_id_shows_only_the_last_four_characters():
    """Roles without beneficiaries.personal would see IDs and mobiles masked on the review screens."""
    from services.validators import mask_digits as mask
    assert (mask("1000000016"), mask("+966501112233"), mask(None)) == ("••••••0016", "•••••••••2233", "")
