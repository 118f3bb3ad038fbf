"""The portal's forms (Flask-WTF: CSRF on every one). Field names other code relies on: id_number, mobile,
attestation, request_number."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from models.choices import GENDERS, ID_TYPES

HONEYPOT = "homepage"


class PortalForm(FlaskForm):
    """A portal form with a honeypot: hidden from people, so only robots fill it."""

    homepage = StringField(_l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"})

    def is_spam(self) -> bool:
        """Return whether the hidden field was filled."""
        return bool((self.homepage.data or "").strip())


class RequestForm(PortalForm):
    """The person and the attestation; the service's questions and documents are added per service."""

    full_name = StringField(_l("Full name (as on your ID)"),
                            validators=[DataRequired(_l("Write your full name.")), Length(max=200)])
    latin_name = StringField(_l("Name in Latin letters (optional)"), validators=[Optional(), Length(max=200)])
    id_type = SelectField(_l("ID type"), choices=[(code, _l(label)) for code, label in ID_TYPES])
    id_number = StringField(_l("ID number"), validators=[DataRequired(_l("Write your ID number.")), Length(max=30)],
                            render_kw={"inputmode": "text", "autocomplete": "off", "dir": "ltr"})
    nationality = SelectField(_l("Nationality"), default="SA")
    gender = RadioField(_l("Gender"), choices=[(code, _l(label)) for code, label in GENDERS],
                        validators=[InputRequired(_l("Choose your gender."))])
    birth_date = DateField(_l("Date of birth (optional)"), validators=[Optional()],
                           render_kw={"type": "date", "dir": "ltr"})
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(_l("Write your mobile number.")),
                                                          Length(max=20)],
                         render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel", "dir": "ltr",
                                    "placeholder": "05XXXXXXXX"})
    email = StringField(_l("Email (optional)"), validators=[Optional(), Length(max=200)],
                        render_kw={"type": "email", "autocomplete": "email", "dir": "ltr"})
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    family_size = IntegerField(_l("Number of family members (optional)"),
                               validators=[Optional(), NumberRange(1, 60, _l("Between 1 and 60."))],
                               render_kw={"inputmode": "numeric", "dir": "ltr"})
    attestation = BooleanField(validators=[DataRequired(_l("Tick the attestation to confirm that your data is "
                                                            "correct."))])


def request_form_class(questions, document_types, language: str):
    """Return a RequestForm class with one field per intake question (q<id>) and per required document (doc<id>)."""
    fields = {}
    for q in questions:
        label = q.label_ar if language == "ar" else q.label_en
        checks = [DataRequired(_l("Answer this question."))] if q.required else [Optional()]
        if q.kind == "yes_no":
            fields[f"q{q.id}"] = RadioField(label, choices=[("yes", _l("Yes")), ("no", _l("No"))],
                                            validators=[InputRequired(_l("Answer this question."))] if q.required
                                            else [Optional()])
        elif q.kind == "choice":
            options = [("", "—")] + [(o, o) for o in q.option_list()]
            fields[f"q{q.id}"] = SelectField(label, choices=options, validators=checks)
        elif q.kind == "date":
            fields[f"q{q.id}"] = StringField(label, validators=checks, render_kw={"type": "date", "dir": "ltr"})
        elif q.kind == "number":
            fields[f"q{q.id}"] = StringField(label, validators=checks, render_kw={"inputmode": "decimal", "dir": "ltr"})
        else:
            fields[f"q{q.id}"] = StringField(label, validators=checks + [Length(max=1000)])
    for d in document_types:
        label = d.name_ar if language == "ar" else d.name_en
        fields[f"doc{d.id}"] = FileField(label, render_kw={"accept": "application/pdf,image/jpeg,image/png"})
    return type("ServiceRequestForm", (RequestForm,), fields)


class TrackForm(FlaskForm):
    """Request number, ID number and the last 4 digits of the registered mobile."""

    request_number = StringField(_l("Request number"), validators=[DataRequired(_l("Write the request number."))],
                                 render_kw={"placeholder": "REQ-2026-000123", "dir": "ltr", "autocomplete": "off"})
    id_number = StringField(_l("ID number"), validators=[DataRequired(_l("Write your ID number."))],
                            render_kw={"dir": "ltr", "autocomplete": "off"})
    mobile = StringField(_l("Last 4 digits of your registered mobile"),
                         validators=[DataRequired(_l("Write the last 4 digits of your mobile."))],
                         render_kw={"inputmode": "numeric", "maxlength": "20", "dir": "ltr", "autocomplete": "off"})


class ContactForm(PortalForm):
    """An inquiry, suggestion or complaint (kinds offered on the portal, edited by an administrator)."""

    kind = RadioField(_l("What would you like to send?"), validators=[InputRequired(_l("Choose one."))])
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Write your name.")), Length(max=200)])
    mobile = StringField(_l("Mobile number"), validators=[DataRequired(_l("Write your mobile number."))],
                         render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel", "dir": "ltr",
                                    "placeholder": "05XXXXXXXX"})
    id_number = StringField(_l("ID number (optional, if you are registered with us)"),
                            validators=[Optional(), Length(max=30)], render_kw={"dir": "ltr", "autocomplete": "off"})
    subject = StringField(_l("Subject (optional)"), validators=[Optional(), Length(max=200)])
    text = TextAreaField(_l("Your message"), validators=[DataRequired(_l("Write your message.")), Length(max=5000)],
                         render_kw={"rows": 5})


RATING_CHOICES = [(str(n), str(n)) for n in range(1, 6)]


class SurveyForm(FlaskForm):
    """The satisfaction survey (P2.5): four ratings 1–5, would you recommend, a comment."""

    overall = RadioField(_l("Overall, how satisfied are you with the service?"), choices=RATING_CHOICES,
                         validators=[InputRequired(_l("Choose a rating from 1 to 5."))])
    speed = RadioField(_l("How satisfied are you with the speed of the service?"), choices=RATING_CHOICES,
                       validators=[InputRequired(_l("Choose a rating from 1 to 5."))])
    courtesy = RadioField(_l("How courteous were the staff?"), choices=RATING_CHOICES,
                          validators=[InputRequired(_l("Choose a rating from 1 to 5."))])
    clarity = RadioField(_l("How clear was the information you were given?"), choices=RATING_CHOICES,
                         validators=[InputRequired(_l("Choose a rating from 1 to 5."))])
    would_recommend = RadioField(_l("Would you recommend the association's service to others?"),
                                 choices=[("yes", _l("Yes")), ("no", _l("No"))],
                                 validators=[InputRequired(_l("Choose yes or no."))])
    comment = TextAreaField(_l("Anything you would like to tell us (optional)"),
                            validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})
