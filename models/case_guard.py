"""The last line of defence of case integrity: a case's rows are written only through an open gate.

A request and its evidence (answers, documents' verification, visits, waivers, assessments, the
recommendation, deliveries, referrals, the status history) change only through services/: the rules
table there (services.workflow) checks the actor's role, the request's state and the actor's part in
the case, then opens a gate for that request while the service writes. The models below refuse any
save, delete or set-based write of a case row while no gate is open for its request, with a clear
CaseWriteRefused: a generic screen, an inline form or a new code path that forgot the rules fails
loudly instead of writing around them.

Writers that act outside the rules on purpose (retention, a merge, the import, demo data) open a named
exemption (services.workflow.exempt), which the rules table lists with its reason.
"""
import contextvars
from contextlib import contextmanager

from .errors import N_, CaseWriteRefused

# An exemption's gate: open for every request.
ANY = object()
# A row that does not belong to a request (a document or a referral filed on the person): not a case row.
NOT_A_CASE = object()
# Columns every table keeps for itself; writing them alone is never a change to the case.
_BOOKKEEPING = frozenset({"id", "created_at", "created_by", "updated_at", "updated_by", "version"})

# The gates open in this context: (request id or ANY or None for a request being created, name).
_gates: contextvars.ContextVar[tuple] = contextvars.ContextVar("case_gates", default=())
# Set while a row's own save or delete runs, so the queries peewee builds for it are not checked twice.
_in_row_write: contextvars.ContextVar[bool] = contextvars.ContextVar("case_row_write", default=False)


@contextmanager
def gate(request_id, name: str):
    """Let the rows of a request be written inside: an id, a frozenset of ids (a bulk action), None for a
    request being created, or ANY (an exemption)."""
    token = _gates.set(_gates.get() + ((request_id, name),))
    try:
        yield
    finally:
        _gates.reset(token)


@contextmanager
def closed():
    """Close every gate inside (a web request starts with none open, whatever the caller's context holds)."""
    token = _gates.set(())
    try:
        yield
    finally:
        _gates.reset(token)


def close_all():
    """Close every gate until restore(token): what a web request starts with, whatever its thread held."""
    return _gates.set(())


def restore(token) -> None:
    """Give back the gates close_all() closed."""
    _gates.reset(token)


@contextmanager
def cascade():
    """Let a row's own delete cascade (peewee's recursive delete) without checking each dependent table.

    For rows that are not a case's: services.records refuses the delete first while any row that
    must stay (a request, RESTRICT) points at it, so the cascade reaches no case row.
    """
    token = _in_row_write.set(True)
    try:
        yield
    finally:
        _in_row_write.reset(token)


def open_gates() -> tuple:
    """Return the names of the gates open now (for messages and tests)."""
    return tuple(name for _request, name in _gates.get())


def exemption() -> str | None:
    """Return the name of the exemption open now (a gate for every request), or None."""
    return next((name for opened, name in reversed(_gates.get()) if opened is ANY), None)


def is_open(request_id) -> bool:
    """Return whether the rows of this request may be written now."""
    return any(opened is ANY or opened == request_id or (isinstance(opened, frozenset) and request_id in opened)
               for opened, _name in _gates.get())


def _refuse(model_name: str):
    raise CaseWriteRefused(N_("This change to a request's file must go through its rules (the case file or its "
                              "service); nothing was saved."), model=model_name)


def _field_names(model, data) -> set[str]:
    names = set()
    for key in (data or {}):
        names.add(key if isinstance(key, str) else getattr(key, "name", str(key)))
    return names


class CaseRecord:
    """Mixed into the models of a case: saving, deleting or bulk-writing a row needs its request's gate open."""

    # Fields whose change is a change to the case; None: every field but the bookkeeping ones.
    case_fields: frozenset[str] | None = None
    # Fields that may change outside a gate (a request's number, when its beneficiary was notified).
    free_fields: frozenset[str] = frozenset()

    def case_request_id(self):
        """Return the id of the request this row belongs to (NOT_A_CASE when it belongs to none)."""
        return self.request_id

    @classmethod
    def _is_case_change(cls, names) -> bool:
        names = set(names) - _BOOKKEEPING - cls.free_fields
        return bool(names if cls.case_fields is None else names & cls.case_fields)

    def _check_row_write(self, names) -> None:
        request_id = self.case_request_id()
        if request_id is not NOT_A_CASE and self._is_case_change(names) and not is_open(request_id):
            _refuse(type(self).__name__)

    def save(self, *args, **kwargs):
        self._check_row_write(self._dirty if self._pk is not None else self.__data__)
        token = _in_row_write.set(True)
        try:
            return super().save(*args, **kwargs)
        finally:
            _in_row_write.reset(token)

    def delete_instance(self, *args, **kwargs):
        self._check_row_write(self._meta.fields)
        token = _in_row_write.set(True)
        try:
            return super().delete_instance(*args, **kwargs)
        finally:
            _in_row_write.reset(token)

    # Set-based writes name no single request: they need some gate open (services open one per operation).
    @classmethod
    def _check_set_write(cls, names=None) -> None:
        if _in_row_write.get() or _gates.get():
            return
        if names is None or cls._is_case_change(names):
            _refuse(cls.__name__)

    @classmethod
    def update(cls, __data=None, **update):
        cls._check_set_write(_field_names(cls, __data) | set(update))
        return super().update(__data, **update)

    @classmethod
    def insert(cls, __data=None, **insert):
        cls._check_set_write(_field_names(cls, __data) | set(insert))
        return super().insert(__data, **insert)

    @classmethod
    def insert_many(cls, rows, fields=None):
        cls._check_set_write()
        return super().insert_many(rows, fields)

    @classmethod
    def insert_from(cls, query, fields):
        cls._check_set_write()
        return super().insert_from(query, fields)

    @classmethod
    def replace(cls, __data=None, **insert):
        cls._check_set_write()
        return super().replace(__data, **insert)

    @classmethod
    def replace_many(cls, rows, fields=None):
        cls._check_set_write()
        return super().replace_many(rows, fields)

    @classmethod
    def delete(cls):
        cls._check_set_write()
        return super().delete()
