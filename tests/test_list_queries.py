"""Lists load what their columns show with the rows: the query count does not grow with the rows (no N+1)."""
import pytest
from conftest import make_beneficiary, make_request
from playhouse.test_utils import count_queries

from models import DocumentType, Referral, VerificationVisit
from services.documents import store_upload

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _add_visit(app, staff, request, dtype):
    VerificationVisit.create(request=request, method="interview", performed_by=staff["researcher"])


def _add_document(app, staff, request, dtype):
    doc = store_upload(PNG, "id.png", dtype, request=request, upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    doc.verified_by = staff["manager"]
    doc.save()


def _add_referral(app, staff, request, dtype):
    Referral.create(beneficiary=request.beneficiary, request=request, reason="؟", researcher=staff["researcher"])


@pytest.mark.parametrize("url, add", [("/admin/verificationvisit/", _add_visit),
                                      ("/admin/document/", _add_document),
                                      ("/admin/referral/", _add_referral)])
def test_list_queries_do_not_grow_with_the_rows(app, client, login_as, staff, service, url, add):
    login_as("manager")
    dtype = DocumentType.create(name_ar="هوية", name_en="ID")
    request = make_request(make_beneficiary(), service, researcher=staff["researcher"])

    def queries():
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    for _ in range(2):
        add(app, staff, request, dtype)
    few = queries()
    for _ in range(12):
        add(app, staff, request, dtype)
    assert queries() == few
