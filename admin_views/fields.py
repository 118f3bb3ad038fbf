"""Form fields of the model screens: translated labels and choices, inline rows, and related rows and numbers
checked safely (a tampered id or an out-of-range number is the form's error, never the database's)."""
from flask_admin.contrib.peewee.ajax import QueryAjaxModelLoader
from flask_admin.contrib.peewee.form import CustomModelConverter
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from peewee import AutoField, BigIntegerField, IntegerField
from wtforms.validators import Optional
from wtforms.validators import ValidationError as WTFormsValidationError
from wtfpeewee.fields import ModelSelectField

from services.ids import parse_id


def lazy_choices(choices):
    """Return form choices whose labels are translated when rendered."""
    return [(code, _l(label)) for code, label in choices]


class Inline(InlineFormAdmin):
    """An inline form whose hidden row id may be empty (a new row)."""

    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        # wtf-peewee makes a peewee 4 AutoField a *required* hidden field (Flask-Admin's
        # handle_pk only catches the old PrimaryKeyField), so no new inline row could be saved.
        args = labelled_form_args(getattr(self, "form_args", None), getattr(self, "column_labels", None),
                                  getattr(self, "form_choices", None))
        args["id"] = {**args.get("id", {}), "validators": [Optional()]}
        self.form_args = args


def labelled_form_args(form_args, column_labels, form_choices=None) -> dict:
    """Return form_args with translated labels and choices for Flask-Admin's peewee forms.

    The peewee backend ignores column_labels and form_choices (both are SQLAlchemy-only),
    so the forms would show English field names and the models' English choice labels.
    Choices become a callable so WTForms translates them when the form is rendered.
    """
    args = {name: dict(value) for name, value in (form_args or {}).items()}
    for name, label in (column_labels or {}).items():
        args.setdefault(name, {}).setdefault("label", label)
    for name, choices in (form_choices or {}).items():
        args.setdefault(name, {}).setdefault("choices", _rendered_choices(choices))
    return args


def _rendered_choices(choices):
    pairs = list(choices)
    return lambda: [(code, str(label)) for code, label in pairs]


# The hidden fields of an edit form that carry what the form was loaded with (optimistic concurrency).


class SafeModelSelectField(ModelSelectField):
    """wtf-peewee's choice of a related row; a posted id that is not a number is "Not a valid choice"."""

    def get_model(self, pk):
        pk = parse_id(pk)
        return None if pk is None else super().get_model(pk)

    def pre_validate(self, form):
        # wtf-peewee queries whatever was posted when a filter reassigned the data; look it up safely instead.
        data = self.data
        if data is not None and not isinstance(data, self.model):
            model = self.get_model(data)
            if model is None:
                raise WTFormsValidationError(self.gettext("Not a valid choice."))
            self._set_data(model)
        super().pre_validate(form)


def _fits_column(low: int, high: int):
    """Return a form validator refusing a whole number the database column cannot hold (other data: untouched)."""
    def check(form, field):
        if isinstance(field.data, int) and not isinstance(field.data, bool) and not low <= field.data <= high:
            raise WTFormsValidationError(gettext("This number is out of range."))
    return check


class SafeModelConverter(CustomModelConverter):
    """Flask-Admin's form builder, with the safe choice of related rows (main and inline forms) and bounded numbers."""

    def convert(self, model, field, field_args):
        if isinstance(field, IntegerField) and not isinstance(field, AutoField):
            # A number past what the column holds is the form's error, not the database's (a 500, issue 15).
            bits = 63 if isinstance(field, BigIntegerField) else 31
            field_args = dict(field_args or {})
            field_args["validators"] = [*field_args.get("validators", ()), _fits_column(-2 ** bits, 2 ** bits - 1)]
        return super().convert(model, field, field_args)

    def handle_foreign_key(self, model, field, **kwargs):
        if field.name in (getattr(self.view, "_form_ajax_refs", None) or {}) or field.choices is not None:
            return super().handle_foreign_key(model, field, **kwargs)
        if field.null:
            kwargs["allow_blank"] = True
        return field.name, SafeModelSelectField(model=field.rel_model, **kwargs)


class SafeAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's look-up of a related row by typing, safe with any posted id.

    Flask-Admin's own get_one raises DoesNotExist for an unknown id (a 500), and on PostgreSQL a
    non-numeric one is a database error; here both give None, which the field refuses as "Not a valid
    choice". A loader that narrows the rows offered (scope) narrows the ids accepted the same way, so a
    hand-made POST cannot attach a row the list would not have offered.
    """

    def scope(self, query):
        """Return the query narrowed to the rows this user may pick (all of them here)."""
        return query

    def get_one(self, pk):
        pk = parse_id(pk)
        if pk is None:
            return None
        return self.scope(self.model.select()).where(self.model._meta.primary_key == pk).first()

    def get_list(self, term, offset=0, limit=10):
        # A look-up sent without its ?query= (a tampered URL) is an empty search, not a 500.
        return super().get_list(term or "", offset, limit)
