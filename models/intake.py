"""What a service asks at intake (P6.1) and what each request answered."""
from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .case_guard import CaseRecord
from .choices import N_
from .service import Service
from .service_request import ServiceRequest

QUESTION_KINDS = [
    ("text", N_("Text")),
    ("number", N_("Number")),
    ("yes_no", N_("Yes / no")),
    ("choice", N_("Choice")),
    ("date", N_("Date")),
]


class IntakeQuestion(BaseModel):
    service = ForeignKeyField(Service, backref="questions", on_delete="CASCADE")
    label_ar = CharField(max_length=300)
    label_en = CharField(max_length=300)
    kind = CharField(max_length=10, choices=QUESTION_KINDS, default="text")
    # For kind "choice": one option per line.
    options = TextField(default="")
    required = BooleanField(default=True)
    # Sensitive answers (e.g. income, religion-related) never leave the system.
    sensitive = BooleanField(default=False)
    position = IntegerField(default=0)
    active = BooleanField(default=True)

    def __str__(self):
        return self.label_ar

    def option_list(self) -> list[str]:
        """Return the options of a choice question."""
        return [line.strip() for line in (self.options or "").splitlines() if line.strip()]


class IntakeAnswer(CaseRecord, BaseModel):
    request = ForeignKeyField(ServiceRequest, backref="answers", on_delete="CASCADE")
    question = ForeignKeyField(IntakeQuestion, backref="answers", on_delete="RESTRICT")
    value = TextField(default="")

    class Meta:
        indexes = ((("request", "question"), True),)
