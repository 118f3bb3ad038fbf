"""Login, logout, forced password change, the sign-in history and the language switch."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from services import audit, users
from services.errors import ValidationError
from web import security

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ChangePasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired()])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


def _safe_next(target: str | None) -> str:
    # Only a path on this site (web/security.py): anything else would make these pages an open redirect.
    return security.safe_next(target) or url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and sign a user in."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username, ip = form.username.data, request.remote_addr
        # Throttled (web/security.py): refused without checking the password, so guessing stops here.
        wait = security.login_wait_seconds(username, ip)
        if wait:
            security.audit_throttled_login(username, ip)
            minutes = max(1, -(-wait // 60))
            flash(ngettext("Too many failed sign-ins. Try again in %(num)d minute.",
                           "Too many failed sign-ins. Try again in %(num)d minutes.", minutes), "error")
            return render_template("auth/login.html", form=form), 429
        user = users.authenticate(username, form.password.data, ip=ip, user_agent=request.user_agent.string)
        if user is not None:
            security.clear_login_failures(username, ip)
            # A fresh session on login: nothing set before it survives (session fixation).
            security.new_session()
            login_user(user)
            security.bind_session(user)
            return redirect(_safe_next(request.args.get("next")))
        security.count_login_failure(username, ip)
        flash(gettext("Wrong username or password, or the account is deactivated."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign the user out."""
    user = current_user._get_current_object()
    audit.record("logout", user)
    # Every copy of this session's cookie, and the user's other sessions, end with it.
    users.end_sessions(user)
    logout_user()
    security.end_session()
    return redirect(url_for("auth.login"))


@bp.route("/change-password", methods=["GET", "POST"])
@login_required
def change_password():
    """Let a user set a new password (forced after a generated one)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            users.set_password(user, form.password.data)
        except ValidationError as err:
            form.password.errors = list(form.password.errors) + [err.translate(gettext)]
        else:
            # The change ended every session of the account; this one goes on.
            security.bind_session(user)
            flash(gettext("Your password was changed. Every other session of your account was ended."), "success")
            return redirect(url_for("admin.index"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account")
@login_required
def account():
    """Show the user their last sign-ins (time, address, browser), to spot one that was not theirs."""
    sign_ins = users.recent_sign_ins(current_user._get_current_object())
    return render_template("auth/account.html", sign_ins=sign_ins, browser_of=users.browser_of)


@bp.route("/lang/<code>")
def set_language(code: str):
    """Switch the interface language and go back."""
    if code in ("ar", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
