"""How large a request body may be (issue 15 item 7): every form is limited by MAX_CONTENT_LENGTH (documents,
UPLOAD_MAX_BYTES and a little room), the Excel import by IMPORT_MAX_BYTES, and the CSRF check, which reads the
body first, applies the same limit as the view behind it."""
import io

import pytest
from conftest import PASSWORD, csrf_token

from models import ImportBatch

MiB = 1024 * 1024


@pytest.fixture
def csrf_app(app):
    """The application with CSRF checked, as in production (the body is read before the view runs)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def login(client, username):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def big_csv(size: int) -> bytes:
    row = "محمد أحمد,1000000024\n".encode()
    return b"Name,ID\n" + row * (size // len(row) + 1)


def upload(client, data: bytes, token: str):
    return client.post("/admin/imports/upload", data={"csrf_token": token, "file": (io.BytesIO(data), "big.csv")},
                       content_type="multipart/form-data")


def test_an_import_larger_than_the_general_limit_reaches_the_import(csrf_app, client, staff):
    """The README promises IMPORT_MAX_BYTES (50 MB); 12 MiB used to get a 413 from the CSRF check."""
    login(client, "manager")
    token = csrf_token(client.get("/admin/imports/").get_data(as_text=True))
    data = big_csv(12 * MiB)
    assert len(data) > csrf_app.config["MAX_CONTENT_LENGTH"]
    response = upload(client, data, token)
    assert response.status_code == 302, response.status_code
    batch = ImportBatch.get()
    assert f"/admin/imports/{batch.id}/mapping" in response.headers["Location"]


def test_an_import_over_its_own_limit_gets_the_413_page(csrf_app, client, staff):
    csrf_app.config["IMPORT_MAX_BYTES"] = 2 * MiB
    login(client, "manager")
    token = csrf_token(client.get("/admin/imports/").get_data(as_text=True))
    response = upload(client, big_csv(4 * MiB), token)
    assert response.status_code == 413
    assert ImportBatch.select().count() == 0


def test_other_forms_keep_the_general_limit(csrf_app, client, staff, service):
    """Only the import's own endpoint gets the larger limit: a portal request of the same size is refused."""
    token = csrf_token(client.get(f"/portal/request/{service.id}").get_data(as_text=True))
    response = client.post(f"/portal/request/{service.id}", data={
        "csrf_token": token, "full_name": "x" * (12 * MiB)}, content_type="multipart/form-data")
    assert response.status_code == 413
