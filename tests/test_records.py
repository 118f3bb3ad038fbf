"""Unit tests of beneficiary records: registration (services.beneficiaries) and deletion (services.records)."""
import json

import pytest
from conftest import make_beneficiary, make_request
from stdnum import luhn

from models import AuditLog, Beneficiary, HouseholdMember, ServiceRequest
from services import beneficiaries
from services.beneficiaries import DuplicateBeneficiary
from services.errors import DependentRecords, ValidationError
from services.records import delete_record, dependents


def valid_id(first: str, body: str) -> str:
    """Return a 10-digit ID with a Luhn check digit."""
    return first + body + luhn.calc_check_digit(first + body)


# Registration

def test_register_gives_a_zero_padded_reference(app):
    first = make_beneficiary()
    second = make_beneficiary(id_number=valid_id("1", "12345678"))
    assert first.reference == f"BEN-{first.id:06d}" == "BEN-000001"
    assert second.reference == "BEN-000002"
    assert Beneficiary.get_by_id(first.id).reference == "BEN-000001"


def test_duplicate_id_number_names_the_existing_reference(app):
    """Match the data against what the association holds (P5.2, P6.6: no double registration)."""
    existing = make_beneficiary()
    with pytest.raises(DuplicateBeneficiary) as err:
        make_beneficiary(full_name="شخص آخر")
    assert err.value.existing.id == existing.id
    assert err.value.params["reference"] == "BEN-000001"
    assert "BEN-000001" in str(err.value)
    assert err.value.field == "id_number"
    assert Beneficiary.select().count() == 1


def test_duplicate_is_found_when_typed_with_arabic_indic_digits(app):
    make_beneficiary(id_number="1000000008")
    with pytest.raises(DuplicateBeneficiary):
        make_beneficiary(id_number="١٠٠٠ ٠٠٠ ٠٠٨")


def test_same_number_under_another_id_type_is_not_a_duplicate(app):
    make_beneficiary(id_type="passport", id_number="A1234567", nationality="EG")
    other = make_beneficiary(id_type="border_number", id_number="3123456789", nationality="EG")
    assert other.reference == "BEN-000002"


def test_name_key_is_stored_and_the_name_stays_as_typed(app):
    b = make_beneficiary(full_name="  مُحَمَّد   عبد الله  ")
    saved = Beneficiary.get_by_id(b.id)
    assert saved.full_name == "مُحَمَّد عبد الله"
    assert saved.name_key == "محمد عبدالله"


def test_mobile_is_stored_e164(app):
    b = make_beneficiary(mobile="٠٥٥ ١٢٣ ٤٥٦٧")
    assert Beneficiary.get_by_id(b.id).mobile == "+966551234567"


def test_national_id_for_a_non_saudi_is_refused(app):
    """A national ID belongs to a citizen; a resident holds an iqama."""
    with pytest.raises(ValidationError) as err:
        make_beneficiary(nationality="EG")
    assert err.value.field == "nationality"
    assert Beneficiary.select().count() == 0


def test_iqama_holder_of_any_nationality_is_registered(app):
    b = make_beneficiary(id_type="iqama", id_number=valid_id("2", "34567890"), nationality="pk")
    assert (b.nationality, b.id_type) == ("PK", "iqama")


def test_invalid_id_is_refused_before_anything_is_saved(app):
    with pytest.raises(ValidationError, match="check digit"):
        make_beneficiary(id_number="1000000009")
    assert Beneficiary.select().count() == 0


def test_blank_name_is_refused(app):
    with pytest.raises(ValidationError) as err:
        make_beneficiary(full_name="   ")
    assert err.value.field == "full_name"


def test_household_member_id_follows_the_same_rules(app):
    member = HouseholdMember(name=" فاطمة ", relation="ابنة", id_type="iqama", id_number="1000000008")
    with pytest.raises(ValidationError, match="starts with 2"):
        beneficiaries.normalize_member(member)


# Deletion

def test_beneficiary_with_a_request_is_not_deleted(app, service):
    """Refuse to erase a beneficiary whose request history depends on the record (P6.6)."""
    b = make_beneficiary()
    make_request(b, service)
    with pytest.raises(DependentRecords) as err:
        delete_record(b, actor="admin")
    assert err.value.params == {"count": 1, "tables": "ServiceRequest"}
    assert Beneficiary.select().count() == 1
    assert ServiceRequest.select().count() == 1
    assert AuditLog.select().where(AuditLog.action == "delete").count() == 0


def test_household_members_do_not_block_deletion(app):
    b = make_beneficiary()
    HouseholdMember.create(beneficiary=b, name="فاطمة", relation="زوجة")
    assert dependents(b) == {}


def test_beneficiary_with_only_household_members_is_deleted_with_them(app):
    b = make_beneficiary()
    other = make_beneficiary(id_number=valid_id("1", "55555555"))
    for name in ("فاطمة", "علي"):
        HouseholdMember.create(beneficiary=b, name=name, relation="ابن")
    HouseholdMember.create(beneficiary=other, name="سارة", relation="ابنة")
    delete_record(b, actor="admin")
    assert Beneficiary.get_or_none(Beneficiary.id == b.id) is None
    assert [m.name for m in HouseholdMember.select()] == ["سارة"]


def test_deletion_is_audited_with_the_values_before(app):
    b = make_beneficiary(full_name="أحمد محمد", mobile="0501234567")
    delete_record(b, actor="admin")
    row = AuditLog.get(AuditLog.action == "delete")
    assert (row.model, row.record_id, row.actor) == ("Beneficiary", b.id, "admin")
    changes = json.loads(row.changes)
    assert changes["full_name"] == ["أحمد محمد", None]
    assert changes["id_number"] == ["1000000008", None]
    assert changes["reference"] == ["BEN-000001", None]
    assert changes["mobile"] == ["+966501234567", None]
