"""The record of processing (issue 8, PDPL) is generated from the models, so it matches them."""
import html as html_lib
import re

import pytest

from models import ALL_MODELS
from models import personal_data as registry
from services import processing, retention
from sync import rows as R


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so texts are asserted in their msgid form."""
    client.get("/lang/en")


def page(client) -> str:
    response = client.get("/admin/processing/")
    assert response.status_code == 200
    return html_lib.unescape(response.get_data(as_text=True))


def category_block(text: str, code: str) -> str:
    """Return the card of one category on the page."""
    match = re.search(rf'id="category-{code}">(.*?)</div>\s*</div>', text, re.S)
    assert match, code
    return match.group(1)


def location(model_name: str, field: str) -> str:
    model = {m.__name__: m for m in ALL_MODELS}[model_name]
    return f"{model._meta.table_name}.{model._meta.fields[field].column_name}"


def test_every_marked_field_appears_under_its_category_with_its_table(client, login_as):
    """Issue 8: every (model, field) of the registry is on the page, in its category's card."""
    login_as("manager")
    text = page(client)
    assert len(registry.PERSONAL_FIELDS) > 10
    for (model_name, field), code in registry.PERSONAL_FIELDS.items():
        assert location(model_name, field) in category_block(text, code), (model_name, field)
    for (model_name, flag), code in registry.ROW_MARKERS.items():
        assert flag in category_block(text, code)


def test_a_field_added_to_the_registry_appears_without_touching_the_page(client, login_as, monkeypatch):
    """Generated, not written: a new marked field shows up by itself."""
    login_as("manager")
    assert "beneficiary.language" not in page(client)
    monkeypatch.setitem(registry.PERSONAL_FIELDS, ("Beneficiary", "language"), "contact")
    assert "beneficiary.language" in category_block(page(client), "contact")


def test_each_category_shows_purpose_roles_recipients_and_the_period_in_force(client, login_as, staff):
    login_as("admin")
    retention.set_periods({"communications": "2"}, staff["admin"])
    text = page(client)
    for code, category in registry.CATEGORIES.items():
        block = category_block(text, code)
        assert category.purpose in block
        roles = re.search(r'class="roles">(.*?)</td>', block, re.S).group(1)
        assert ("Board member" in roles) == ("board" in category.roles), code
        assert ("Volunteer" in roles) == ("volunteer" in category.roles), code
        for recipient in category.recipients:
            assert recipient in block
        assert ("Sensitive" in block) == category.sensitive
    assert "2 years after the last activity" in category_block(text, "communications")
    assert "(default 3)" in category_block(text, "communications")
    assert f"{registry.CATEGORIES['name'].retention_years} years" in category_block(text, "name")


def test_the_sms_gateway_and_the_sheet_are_named_where_they_receive_data(client, login_as):
    login_as("manager")
    text = page(client)
    assert "SMS gateway: mobile number and message text" in category_block(text, "contact")
    names = category_block(text, "name")
    assert "only with SHEETS_INCLUDE_NAMES=1" in names
    # The sheet never carries an identifier, a contact detail or a sensitive category.
    for code in ("identifiers", "contact", "circumstances", "sensitive_answers", "religion"):
        assert "Board mirror" not in category_block(text, code), code


def test_the_fields_the_retention_also_erases_are_listed(client, login_as):
    login_as("manager")
    text = page(client)
    for (model_name, field), code in retention.extra_fields().items():
        assert location(model_name, field) in category_block(text, code)


def test_the_record_is_built_from_the_registry(app):
    entries = {e.code: e for e in processing.record(R.TABLES)}
    assert list(entries) == list(registry.CATEGORIES)
    listed = {(c.model, c.column) for e in entries.values() for c in e.columns}
    assert listed == {(m, f) for m, f in registry.PERSONAL_FIELDS}
    assert {e.code: e.years for e in entries.values()} == retention.periods()


def test_a_personal_column_added_to_the_board_mirror_would_show(app):
    """The sheet's columns are read from sync/rows.py: one carrying a marked field is named under its category."""
    leaky = R.Table(R.BENEFICIARIES.key, R.BENEFICIARIES.title, R.BENEFICIARIES.columns + (R.Column("mobile", "Mobile"),))
    contact = {e.code: e for e in processing.record((leaky,) + R.TABLES[1:])}["contact"]
    assert (R.BENEFICIARIES.title, "Mobile") in contact.mirror


@pytest.mark.parametrize("role, status", [("admin", 200), ("manager", 200), ("researcher", 403), ("volunteer", 403),
                                          ("board", 403)])
def test_admins_and_managers_read_it(client, login_as, role, status):
    login_as(role)
    assert client.get("/admin/processing/").status_code == status


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/processing/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
