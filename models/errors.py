"""Errors with a translatable message: the data layer raises them itself, and services build theirs on them."""


def N_(message: str) -> str:
    """Mark a string for extraction into the catalogue; translation happens at display."""
    return message


class Term(str):
    """A parameter of a message that is itself a message id (a status, a method): translated at display too."""


class Terms(tuple):
    """Several message ids as one parameter: translated one by one and joined at display."""


class DomainError(Exception):
    """A rule refused an operation; the message is shown to the user in their language."""

    def __init__(self, message: str, field: str | None = None, **params):
        super().__init__(message % {k: _plain(v) for k, v in params.items()} if params else message)
        self.message = message
        self.field = field
        self.params = params

    def translate(self, gettext) -> str:
        """Return the message in the user's language using the given gettext (its Term parameters too)."""
        if not self.params:
            return gettext(self.message)
        return gettext(self.message, **{name: _translated(value, gettext) for name, value in self.params.items()})


def _plain(value):
    return ", ".join(value) if isinstance(value, Terms) else value


def _translated(value, gettext):
    if isinstance(value, Term):
        return gettext(value)
    if isinstance(value, Terms):
        # The list separator is itself translated ("، " in Arabic).
        return gettext(N_(", ")).join(gettext(term) for term in value)
    return value


class CaseWriteRefused(DomainError):
    """A write to a request or its evidence that did not pass the case rules (services.workflow)."""


class StaleRecord(DomainError):
    """The record was changed (or deleted) by someone else after it was read; nothing was saved.

    `current` is the row as it is now (None when it was deleted), so a screen can show what changed.
    """

    def __init__(self, message: str, current=None, **params):
        super().__init__(message, **params)
        self.current = current
