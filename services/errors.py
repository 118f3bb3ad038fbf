"""Domain errors carrying a translatable message id and its parameters.

The base class lives with the models (models/errors.py), which raise it themselves for a case row
written around the rules; every error here derives from it.
"""
from models.errors import N_, CaseWriteRefused, DomainError, Term, Terms

__all__ = ["CaseWriteRefused", "DependentRecords", "DomainError", "N_", "PermissionDenied", "Term", "Terms",
           "TransitionRefused", "ValidationError"]


class ValidationError(DomainError):
    """Input that fails a validation rule (bad ID, bad mobile …)."""


class PermissionDenied(DomainError):
    """The acting role may not do this."""


class TransitionRefused(DomainError):
    """A status change that the transition table or a guard refuses."""


class DependentRecords(DomainError):
    """A delete refused because other records still point at the row."""
