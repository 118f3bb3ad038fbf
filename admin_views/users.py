"""Staff accounts screen (admins only): create with a password, deactivate, reset, end all sessions."""
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import PasswordField

from models import User
from models.choices import ROLES
from services import users as svc
from services.errors import N_, ValidationError
from web import security

from .base import SecureModelView
from .fields import lazy_choices
from .formatters import choice_formatter, date_formatter


class UserView(SecureModelView):
    read_capability = "users.manage"
    create_capability = "users.manage"
    edit_capability = "users.manage"

    column_list = ("username", "full_name", "role", "active", "must_change_password", "last_login_at")
    column_details_exclude_list = ("password_hash",)
    column_export_exclude_list = ("password_hash",)
    form_columns = ("username", "full_name", "role", "active", "must_change_password", "language", "new_password")
    form_extra_fields = {"new_password": PasswordField(_l("New password"))}
    form_choices = {"role": lazy_choices(ROLES), "language": [("ar", "العربية"), ("en", "English")]}
    column_labels = {"username": _l("Username"), "full_name": _l("Full name"), "role": _l("Role"),
                     "active": _l("Active"), "must_change_password": _l("Must change password"),
                     "last_login_at": _l("Last login"), "language": _l("Language"),
                     "new_password": _l("New password")}
    column_formatters = {"role": choice_formatter(ROLES), "last_login_at": date_formatter}

    def search_clause(self, term):
        return User.username.contains(term) | User.full_name.contains(term)

    def on_model_change(self, form, model, is_created):
        password = form.new_password.data
        if is_created and not password:
            raise ValidationError(N_("Give the new account a password."), field="new_password")
        svc.apply_account_edit(model, password, is_created)

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        if model.id == current_user.id:
            security.bind_session(model)  # an admin changing their own password stays signed in here

    @action("end_sessions", _l("End all sessions"),
            _l("End every session of the selected accounts? They must sign in again on every device."))
    def action_end_sessions(self, ids):
        """Sign the selected accounts out everywhere (a lost phone, a shared computer, someone leaving)."""
        actor = current_user._get_current_object()
        done = self.apply_each("end_sessions", ids, lambda user: svc.end_sessions_of([user], actor), lambda n: ngettext(
            "The sessions of %(num)s account were ended.", "The sessions of %(num)s accounts were ended.", n))
        if str(actor.id) in {str(i) for i in done}:
            security.bind_session(User.get_by_id(actor.id))  # ending your own others keeps this one

    def validate_model(self, model, is_created):
        svc.validate_role(model.role)
        if is_created and User.select().where(User.username == (model.username or "").lower()).exists():
            raise ValidationError(N_("The username “%(username)s” is taken."), field="username",
                                  username=model.username)
        model.username = (model.username or "").strip().lower()
        # Placeholder hash until on_model_change sets the real one (the column is NOT NULL).
        model.password_hash = model.password_hash or "!"
