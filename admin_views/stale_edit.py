"""Two people editing the same record (optimistic concurrency, issue 9): the edit form remembers what it was
loaded with, and a save begun from an older version is refused with who changed what."""
import datetime

from flask import flash
from flask_babel import gettext
from markupsafe import Markup
from wtforms import HiddenField

from services import concurrency
from web.filters import choice_label, dual_date

# The hidden fields of an edit form that carry what the form was loaded with (optimistic concurrency).
LOADED_FIELDS = ("loaded_version", "loaded_values")


class LoadedVersionForm:
    """Mixed into the edit form of a versioned model: the version and values it was loaded with, hidden."""

    loaded_version = HiddenField()
    loaded_values = HiddenField()

    def populate_obj(self, obj):
        # What the form was loaded with is not part of the record.
        for name, field in self._fields.items():
            if name not in LOADED_FIELDS:
                field.populate_obj(obj, name)


class StaleEditMixin:
    """Mixed into the secured model view: the loaded version in the edit form, and the refusal of a stale save.

    The view's edit_form calls _remember_loaded, its save transaction calls _show_stale; visible_inline_rows
    comes from the view (what the role may see).
    """

    def get_edit_form(self):
        form_class = super().get_edit_form()
        if concurrency.is_versioned(self.model):
            form_class = type(form_class.__name__, (LoadedVersionForm, form_class), {})
        return form_class

    def _form_values(self, model, form) -> dict:
        """Return the stored values the edit form shows (its own fields and the inline rows), JSON-ready."""
        values = concurrency.record_values(model, [n for n in form._fields if n not in LOADED_FIELDS])
        values.update(self.visible_inline_rows(model))
        return values

    def _remember_loaded(self, form, model) -> None:
        form.loaded_version.data = model.version
        form.loaded_values.data = concurrency.encode_values(self._form_values(model, form))

    def _display_value(self, form, row, name) -> str:
        """Return a stored value as the form would offer it: a choice's label, a related row's name, a dual date."""
        value = getattr(row, name, None)
        if value is None or value == "":
            return "—"
        field = form._fields.get(name)
        for choice in getattr(field, "choices", None) or ():
            if str(choice[0]) == str(value):
                return str(choice[1])
        model_field = row._meta.fields.get(name)
        if model_field is not None and model_field.choices:
            return choice_label(model_field.choices, value)
        if isinstance(value, (datetime.datetime, datetime.date)):
            return dual_date(value, with_time=isinstance(value, datetime.datetime))
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        return str(value)

    def _describe_inline_row(self, key: str) -> tuple[str, str]:
        """Return (the inline form's label, the row as it is now, or "removed") for a key "Model:id"."""
        model_name, row_id = key.split(":", 1)
        for inline in self.inline_models or ():
            inline_model = getattr(inline, "model", inline)
            if inline_model.__name__ == model_name:
                row = inline_model.get_or_none(inline_model._meta.primary_key == int(row_id))
                return (str(getattr(inline, "form_label", None) or model_name),
                        str(row) if row is not None else gettext("removed"))
        return model_name, ""

    def _show_stale(self, form, err: "concurrency.StaleRecord") -> None:
        """Refuse a save begun from an older version: say who changed which fields to what; keep the typed values."""
        current = err.current
        message = Markup("%s") % err.translate(gettext)
        if current is None or "loaded_version" not in form._fields:
            flash(message, "error")
            return
        now = self._form_values(current, form)
        items = []
        for name in concurrency.changed_fields(concurrency.decode_values(form.loaded_values.data), now):
            if ":" in name:  # an inline row ("HouseholdMember:12") added, removed or changed
                items.append(self._describe_inline_row(name))
                continue
            field = form._fields.get(name)
            value = self._display_value(form, current, name)
            if field is not None:
                field.errors = list(field.errors or []) + [gettext("Changed meanwhile to: %(value)s", value=value)]
            items.append((field.label.text if field is not None else name, value))
        if items:
            message += Markup(" %s<ul>%s</ul>") % (
                gettext("Their changes:"),
                Markup("").join(Markup("<li>%s: <bdi>%s</bdi></li>") % (label, value) for label, value in items))
        message += " " + gettext("Your values are still in the form: check them, then save again to replace theirs.")
        flash(message, "error")
        # Saving again is now a choice made knowing the other change: it starts from the current version.
        form.loaded_version.data = current.version
        form.loaded_values.data = concurrency.encode_values(now)
