"""Application factory: configuration, database, translations, login, admin panel and CLI."""
import os
from pathlib import Path

from flask import Flask, g, has_request_context, redirect, render_template, request, session, url_for
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from peewee import OperationalError, SqliteDatabase

import config
from models import case_guard, current_actor, db
from models.database import open_database
from services import audit, files
from web.security import session_user

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def select_locale():
    """Return the user's chosen language, Arabic by default; the public portal has its own languages."""
    if has_request_context() and request.blueprint == "portal":
        from portal import portal_language
        return portal_language()
    lang = session.get("lang")
    if lang in ("ar", "en"):
        return lang
    return "ar"


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the Mustafeed application."""
    instance_path = Path(os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent / "instance"))
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    # Personal data on disk is the owner's only (services/files.py): whatever this process creates, and the
    # folders it keeps it in, however the web server, the worker or the command line was started.
    files.close_umask()
    files.private_folder(instance_path)
    app.config.from_mapping(config.load_config(instance_path))
    if test_config:
        app.config.update(test_config)
    config.check_workers(app.config)
    for folder in (app.config["UPLOAD_DIR"], app.config["IMPORT_DIR"]):
        files.private_folder(folder)

    database = open_database(app.config["DATABASE_URL"])
    if isinstance(database, SqliteDatabase):
        for path in files.sqlite_files(database.database):
            files.make_private(path)  # made before this rule, or copied in by hand
    # The outbox's services read their settings (gateways, letterhead) without Flask.
    from services import notifications
    notifications.configure(app.config)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Riyadh")
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from web import filters, security
    filters.register(app)
    security.init_app(app)  # CSP and other headers, HTTPS cookies, proxies, strong session protection

    from web.auth import bp as auth_bp
    app.register_blueprint(auth_bp)
    from portal import bp as portal_bp
    app.register_blueprint(portal_bp)

    from admin_views import init_admin
    init_admin(app)

    import cli
    cli.register(app)

    # The web side hands work to the worker's queue (a bulk job goes out as services.signals.job_submitted):
    # imported here, not at the top, because the queue opens its store from the environment the
    # application is made in (INSTANCE_PATH, HUEY_DB, REDIS_URL).
    from tasks import jobs as job_tasks  # noqa: F401 (connects the job_submitted receiver)

    _register_request_hooks(app)
    return app


@login_manager.user_loader
def _load_user(user_id: str):
    # Checked on every request: an ended session or a deactivated account is signed out (web/security.py).
    return session_user(user_id)


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _open():
        db.connect(reuse_if_open=True)
        g.actor_token = current_actor.set(current_user.username if current_user.is_authenticated else None)
        g.ip_token = audit.set_ip(request.remote_addr)
        # Every case write of a page passes the rules itself (services.workflow): no gate is open to start with.
        g.case_gates_token = case_guard.close_all()
        # A generated password must be changed before anything else is reachable.
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ("auth.change_password", "auth.logout", "static", "auth.set_language")):
            return redirect(url_for("auth.change_password"))

    @app.teardown_request
    def _close(exc):
        token = g.pop("case_gates_token", None)
        if token is not None:
            case_guard.restore(token)
        if not db.is_closed():
            db.close()

    @app.errorhandler(403)
    def _forbidden(e):
        return render_template("errors/403.html"), 403

    @app.errorhandler(404)
    def _not_found(e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(413)
    def _too_large(e):
        return render_template("errors/413.html"), 413

    @app.errorhandler(OperationalError)
    def _database_busy(e):
        # SQLite under several processes: a write that waited the whole busy timeout was rolled back
        # whole; the user gets a page saying so (503), not a raw 500. Other database errors stay errors.
        from services import concurrency
        if not concurrency.is_database_busy(e):
            raise e
        return render_template("errors/503.html"), 503, {"Retry-After": "5"}

    @app.route("/")
    def root():
        return redirect(url_for("admin.index"))
