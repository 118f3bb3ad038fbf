"""Domain errors carrying a translatable message id and its parameters."""


def N_(message: str) -> str:
    """Mark a string for extraction into the catalogue; translation happens at display."""
    return message


class DomainError(Exception):
    """A rule of the policy refused an operation; the message is shown to the user."""

    def __init__(self, message: str, field: str | None = None, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.field = field
        self.params = params

    def translate(self, gettext) -> str:
        """Return the message in the user's language using the given gettext."""
        return gettext(self.message, **self.params) if self.params else gettext(self.message)


class ValidationError(DomainError):
    """Input that fails a validation rule (bad ID, bad mobile …)."""


class PermissionDenied(DomainError):
    """The acting role may not do this."""


class TransitionRefused(DomainError):
    """A status change that the transition table or a guard refuses."""


class DependentRecords(DomainError):
    """A delete refused because other records still point at the row."""
