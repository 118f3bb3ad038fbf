"""Files others cannot read (issue 15 item 9): instance/ is 0700 and what it holds 0600 (the database, the key,
uploads, imports), whatever the umask of the shell that started the server, the worker or the command line;
a restore keeps them so; gunicorn's access log carries paths without query strings (searches carry ID numbers
and mobiles)."""
import io
import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSWORD, free_port

from services import backup as backups
from services.documents import store_upload
from tests.test_permissions import PNG

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_umask():
    """Start a child as an ordinary shell would: files readable by everyone unless the program says otherwise."""
    os.umask(0o022)


def assert_private(folder: Path) -> None:
    """The folder and every folder under it 0700, every file 0600."""
    assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for path in folder.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert mode(path) == expected, (path, oct(mode(path)))


@pytest.mark.sqlite_only("the database file is SQLite's")
def test_the_command_line_makes_the_instance_folder_and_database_owner_only(tmp_path):
    instance = tmp_path / "instance"
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "UPLOAD_DIR")}
    environment.update(INSTANCE_PATH=str(instance), ADMIN_PASSWORD="Strong-pass-2026")
    for command in ("init-db", "ensure-admin"):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", command], cwd=ROOT, env=environment,
                                capture_output=True, text=True, timeout=120, preexec_fn=open_umask)
        assert result.returncode == 0, result.stderr
    assert (instance / "mustafeed.db").exists() and (instance / "secret_key").exists()
    assert (instance / "uploads").is_dir()
    assert_private(instance)


def test_an_existing_open_instance_folder_is_closed_at_start(tmp_path, monkeypatch, database_url):
    """An install made before this rule: its folders are 0700 from the next start."""
    from app import create_app
    instance = tmp_path / "old-instance"
    (instance / "uploads").mkdir(parents=True)
    (instance / "imports").mkdir()
    for folder in (instance, instance / "uploads", instance / "imports"):
        folder.chmod(0o755)
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    create_app({"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(instance / "uploads"),
                "IMPORT_DIR": str(instance / "imports")})
    for folder in (instance, instance / "uploads", instance / "imports"):
        assert mode(folder) == 0o700, folder


def test_an_uploaded_document_and_an_import_file_are_owner_only(app, staff, tmp_path):
    os.umask(0o022)  # as if the shell had left it open: the application closes it (create_app)
    from app import create_app
    app2 = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                       "UPLOAD_DIR": app.config["UPLOAD_DIR"], "IMPORT_DIR": str(tmp_path / "imports")})
    from models import DocumentType
    from services import imports
    document = store_upload(PNG, "id.png", DocumentType.create(name_ar="الهوية", name_en="ID card"),
                            beneficiary=_beneficiary(), upload_dir=app2.config["UPLOAD_DIR"], max_bytes=10_000)
    assert mode(Path(app2.config["UPLOAD_DIR"]) / document.stored_name) == 0o600
    batch = imports.create_batch(io.BytesIO("Name,ID\nمحمد,1000000024\n".encode()), "a.csv",
                                 app2.config["IMPORT_DIR"], staff["admin"])
    assert mode(Path(batch.stored_path)) == 0o600
    assert mode(Path(app2.config["IMPORT_DIR"])) == 0o700


def _beneficiary():
    from conftest import make_beneficiary
    return make_beneficiary()


def test_the_worker_closes_the_umask_before_it_opens_its_queue(tmp_path):
    instance = tmp_path / "instance"
    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HUEY_REDIS_URL", "HUEY_DB")}
    # The queue's store opens on first use, as the consumer does when it starts.
    opened = "import os, worker; worker.huey.storage.queue_size(); print(oct(os.umask(0)))"
    result = subprocess.run([sys.executable, "-c", opened], cwd=ROOT,
                            env={**environment, "INSTANCE_PATH": str(instance)}, capture_output=True, text=True,
                            timeout=120, preexec_fn=open_umask)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0o77"
    assert mode(instance) == 0o700
    for path in instance.glob("huey.db*"):
        assert mode(path) == 0o600, path


def test_make_run_closes_the_umask_for_the_server_the_worker_and_the_setup():
    recipe = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHON": sys.executable}).stdout
    commands = recipe.replace("\\\n", " ").splitlines()  # one shell command per line
    for program in ("mkdir -p instance", "flask --app app init-db", "flask --app app ensure-admin",
                    "bin/huey_consumer", "bin/gunicorn"):
        command = next(line for line in commands if program in line)
        assert "umask 077" in command.split(program)[0], command
    assert "-c gunicorn.conf.py" in next(line for line in commands if "bin/gunicorn" in line)


def test_a_restore_leaves_the_database_and_uploads_owner_only(app, staff, tmp_path):
    from models import DocumentType, db
    store_upload(PNG, "id.png", DocumentType.create(name_ar="الهوية", name_en="ID card"), beneficiary=_beneficiary(),
                 upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    dest = tmp_path / "backup"
    backups.backup(db.obj, app.config["UPLOAD_DIR"], dest)
    # A backup copied with cp, or made before this rule: everything readable by everyone.
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    os.umask(0o022)
    backups.restore(db.obj, app.config["UPLOAD_DIR"], dest, force=True)
    assert_private(Path(app.config["UPLOAD_DIR"]))
    if Path(db.obj.database).exists():  # SQLite: the live file
        assert mode(Path(db.obj.database)) == 0o600


def test_the_access_log_records_paths_without_query_strings(tmp_path, database_url):
    port = free_port()
    log = tmp_path / "access.log"
    environment = {k: v for k, v in os.environ.items() if k not in ("WEB_WORKERS", "SECRET_KEY")}
    environment.update(DATABASE_URL=database_url, INSTANCE_PATH=str(tmp_path / "instance"))
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "1",
                               "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log), "app:create_app()"],
                              cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/portal/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        secrets = ("1000000008", "0501234567", PASSWORD)
        request = urllib.request.Request(f"{base}/portal/track?id_number=1000000008&mobile=0501234567",
                                         headers={"Referer": f"{base}/admin/beneficiary/?search=1000000008"})
        urllib.request.urlopen(request, timeout=10)
        urllib.request.urlopen(f"{base}/lang/en?next=/admin/beneficiary/%3Fsearch%3D0501234567", timeout=10)
        for _ in range(50):
            if log.exists() and log.read_text().count("\n") >= 3:
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "GET /portal/track " in text and "GET /lang/en " in text
    for secret in secrets:
        assert secret not in text, text
    assert "?" not in text
