"""Demonstration data (`flask --app app demo-data`): believable beneficiaries, requests and visits, the same rows
for the same seed.

The names, places and findings, and person(), are public: the benchmarks (bench/data.py) draw their rows from
them too.
"""
import datetime
import itertools
import random
from dataclasses import dataclass, field

from stdnum import luhn

from models import (
    Beneficiary,
    CriterionAssessment,
    Delivery,
    DocumentType,
    EvaluationCriterion,
    HouseholdMember,
    IntakeAnswer,
    IntakeQuestion,
    Recommendation,
    Service,
    ServiceDocumentType,
    ServiceRequest,
    User,
    VerificationVisit,
    db,
)
from models.choices import ATTESTATION_METHODS, CHANNELS, STATUSES, VISIT_METHODS, VISIT_OUTCOMES, codes
from services import beneficiaries, duplicates, evidence, requests, users, workflow
from services.beneficiaries import DuplicateBeneficiary

# Dates count back from here, not from today, so a seed gives the same rows on any day (naive UTC).
BASE_TIME = datetime.datetime(2026, 1, 1, 6, 0)

# Prefixes that libphonenumber's Saudi metadata accepts as mobile (052 is not allocated).
MOBILE_PREFIXES = ("50", "53", "54", "55", "56", "58", "59")

ARABIC_MALE = ("محمد", "أحمد", "عبد الله", "عبدالله", "عبد الرحمن", "خالد", "سعد", "فيصل", "ماجد", "يوسف",
                "إبراهيم", "علي", "عمر", "حسن", "مصطفى", "ناصر", "سلطان", "صالح", "عبد العزيز", "حمزة")
ARABIC_FEMALE = ("فاطمة", "فاطمه", "عائشة", "مريم", "نورة", "سارة", "هند", "أمل", "خديجة", "زينب", "منى",
                  "ريم", "أسماء", "هيفاء", "جميلة", "حليمة")
ARABIC_FAMILIES = {
    "SA": ("اللحياني", "الحربي", "العتيبي", "الغامدي", "الزهراني", "القحطاني", "الثبيتي", "المطيري", "الجهني",
           "السلمي", "الشهري", "الهذلي"),
    "YE": ("الحضرمي", "العدني", "اليافعي", "الصنعاني", "باوزير", "العمودي", "باعشن"),
    "EG": ("عبد الحميد", "السيد", "منصور", "الشافعي", "حسنين", "النجار", "عبد الفتاح"),
    "SD": ("عثمان", "الأمين", "الطيب", "بشير", "إدريس", "محجوب", "النور"),
}
# (male first names, female first names, family names) for beneficiaries whose names are written in Latin.
LATIN_NAMES = {
    "PK": (("Muhammad", "Imran", "Bilal", "Asif", "Tariq", "Usman"), ("Ayesha", "Sana", "Rabia", "Noor"),
           ("Khan", "Ahmed", "Butt", "Qureshi", "Malik", "Chaudhry")),
    "IN": (("Mohammed", "Abdul Rasheed", "Shahid", "Faisal", "Rafiq"), ("Fathima", "Shabana", "Ruksana"),
           ("Ansari", "Shaikh", "Pathan", "Kutty", "Siddiqui")),
    "BD": (("Md. Rahim", "Karim", "Jamal", "Sohel", "Habibur"), ("Nasrin", "Taslima", "Rokeya"),
           ("Hossain", "Rahman", "Islam", "Uddin", "Miah")),
    "ID": (("Agus", "Budi", "Ahmad", "Rizki", "Dedi"), ("Siti", "Dewi", "Nur", "Aisyah"),
           ("Santoso", "Hidayat", "Saputra", "Wijaya", "Nasution")),
    "PH": (("Jose", "Mark Anthony", "Abdulrahman", "Rodel", "Jun"), ("Maria", "Joy", "Fatima", "Grace"),
           ("Santos", "Reyes", "Dela Cruz", "Bautista", "Mangondato")),
    "ET": (("Abdi", "Kedir", "Yusuf", "Tesfaye", "Mohammed"), ("Amina", "Hawa", "Meron", "Zahra"),
           ("Hussein", "Abdulla", "Bekele", "Tadesse", "Ahmed")),
    "NG": (("Abubakar", "Musa", "Ibrahim", "Sani", "Chinedu"), ("Aisha", "Hauwa", "Zainab", "Ngozi"),
           ("Bello", "Yusuf", "Abdullahi", "Okafor", "Danjuma")),
    "SN": (("Mamadou", "Ousmane", "Cheikh", "Ibrahima"), ("Fatou", "Aminata", "Awa"),
           ("Diop", "Ndiaye", "Fall", "Sow")),
}
# Nationality → (weight, language).
NATIONALITIES = {
    "SA": (30, "ar"), "YE": (12, "ar"), "EG": (10, "ar"), "SD": (6, "ar"), "PK": (10, "ur"), "IN": (8, "hi"),
    "BD": (8, "bn"), "ID": (5, "id"), "PH": (5, "tl"), "ET": (3, "en"), "NG": (2, "en"), "SN": (1, "fr"),
}
DISTRICTS = ("بحرة", "بحرة القديمة", "الفيصلية", "الروضة", "النزهة", "الصفا")
CITIES = ("بحرة", "بحرة", "بحرة", "الجموم", "مكة المكرمة", "جدة")
CATEGORIES = ("أسرة محتاجة", "أرملة", "مطلقة", "يتيم", "مسن", "ذوو إعاقة", "مهتدٍ جديد", "عامل", None)
FINDINGS = {
    "confirmed": "تمت مطابقة البيانات مع المستندات الأصلية.",
    "not_confirmed": "لم تتطابق البيانات المقدمة مع الواقع.",
    "more_information": "يلزم إحضار مستندات إضافية.",
}

_DOCUMENT_TYPES = {
    "id": ("صورة الهوية الوطنية أو الإقامة", "Copy of national ID or iqama"),
    "family": ("سجل الأسرة", "Family register"),
    "income": ("إثبات الدخل", "Proof of income"),
    "lease": ("عقد الإيجار أو صك الملكية", "Lease or title deed"),
    "education": ("آخر مؤهل دراسي", "Latest education certificate"),
    "islam": ("شهادة إشهار الإسلام", "Certificate of embracing Islam"),
}
# Intake questions (P6.1): (Arabic, English, kind, options, required, sensitive).
_INCOME = ("الدخل الشهري للأسرة (ريال)", "Monthly household income (SAR)", "number", "", True, True)
_HOUSING = ("نوع السكن", "Housing", "choice", "ملك\nإيجار\nسكن خيري", True, False)
_SERVICES = (
    dict(name_ar="سلة غذائية", name_en="Food basket", decision_days=14, documents=("id", "family", "income"),
         questions=(_INCOME, ("عدد أفراد الأسرة المقيمين", "Household members living together", "number", "",
                              True, False)),
         criteria=(("دخل الفرد أقل من حد الكفاية المعتمد", "Income per person below the approved sufficiency line"),
                   ("مقيم في نطاق خدمة الجمعية", "Lives within the association's service area"))),
    dict(name_ar="كفالة أسرية", name_en="Family sponsorship", decision_days=30, requires_interview=True,
         requires_field_visit=True, documents=("id", "family", "income", "lease"),
         questions=(_INCOME, _HOUSING, ("هل يوجد عائل للأسرة؟", "Does the family have a provider?", "yes_no", "",
                                       True, False)),
         criteria=(("لا يوجد عائل قادر على الإنفاق", "No provider able to support the family"),
                   ("السكن والحالة مطابقان لما في الطلب (الزيارة الميدانية)",
                    "Home and situation match the request (field visit)"),
                   ("لا يتلقى كفالة مماثلة من جهة أخرى", "No similar sponsorship from another body"))),
    dict(name_ar="دورة تعليمية", name_en="Education course", decision_days=7, requires_interview=True,
         documents=("id", "education"),
         questions=(("المستوى الدراسي", "Education level", "choice", "ابتدائي\nمتوسط\nثانوي\nجامعي", True, False),),
         criteria=(("يناسب مستواه الدورة", "Level suits the course"),)),
    dict(name_ar="رعاية المهتدين الجدد", name_en="Care for new Muslims", decision_days=14, requires_interview=True,
         sensitive=True, documents=("id", "islam"),
         questions=(("تاريخ إشهار الإسلام", "Date of embracing Islam", "date", "", True, True),),
         criteria=(("مهتدٍ جديد خلال السنتين الأخيرتين", "Embraced Islam within the last two years"),)),
)


@dataclass
class DemoSummary:
    seed: int
    beneficiaries: int = 0
    skipped: int = 0
    members: int = 0
    requests: int = 0
    visits: int = 0
    services: int = 0
    # (username, role, password) of accounts created, for showing once.
    users: list = field(default_factory=list)


@dataclass
class _Staff:
    researchers: list
    volunteers: list
    deciders: list


def saudi_id(rng: random.Random, first: str) -> str:
    """Return a random 10-digit national ID (first '1') or iqama (first '2') with its Luhn digit."""
    partial = first + "".join(rng.choice("0123456789") for _ in range(8))
    return partial + luhn.calc_check_digit(partial)


def saudi_mobile(rng: random.Random) -> str:
    """Return a random Saudi mobile, typed the way people type it."""
    local = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(7))
    style = rng.random()
    if style < 0.6:
        return "0" + local
    if style < 0.8:
        return f"0{local[:2]} {local[2:5]} {local[5:]}"
    return "+966" + local


def generate(n: int, seed: int) -> DemoSummary:
    """Write n new beneficiaries with households, requests in every status and visits, in one transaction."""
    rng = random.Random(seed)
    summary = DemoSummary(seed=seed)
    # Generated history, walked through the statuses without the evidence: the rules table's "demo" exemption.
    with db.atomic(), workflow.exempt("demo"):
        services = _ensure_services(summary)
        staff = _ensure_staff(summary)
        created = _beneficiaries(rng, n, summary)
        if created:
            _requests(rng, created, services, staff, summary)
        # Demo people are registered without the screen's duplicate check; list their pairs now.
        duplicates.rescan()
    return summary


def _ensure_services(summary: DemoSummary) -> list[Service]:
    """Return the active services, creating the demonstration catalogue when there is none."""
    if not Service.select().exists():
        types = {}
        for key, (name_ar, name_en) in _DOCUMENT_TYPES.items():
            types[key] = (DocumentType.get_or_none(DocumentType.name_ar == name_ar) or
                          DocumentType.create(name_ar=name_ar, name_en=name_en))
        for spec in _SERVICES:
            spec = dict(spec)
            documents, questions, criteria = spec.pop("documents"), spec.pop("questions"), spec.pop("criteria")
            service = Service.create(**spec)
            for key in documents:
                ServiceDocumentType.create(service=service, document_type=types[key])
            for position, (label_ar, label_en, kind, options, required, sensitive) in enumerate(questions, 1):
                IntakeQuestion.create(service=service, label_ar=label_ar, label_en=label_en, kind=kind,
                                      options=options, required=required, sensitive=sensitive, position=position)
            for position, (text_ar, text_en) in enumerate(criteria, 1):
                EvaluationCriterion.create(service=service, text_ar=text_ar, text_en=text_en, position=position)
            summary.services += 1
    return list(Service.select().where(Service.active == True).order_by(Service.id))  # noqa: E712


def _ensure_staff(summary: DemoSummary) -> _Staff:
    """Return the active staff who act in the demo, creating a role's accounts when it has none."""
    def of(*roles):
        return list(User.select().where(User.role.in_(roles) & (User.active == True)).order_by(User.id))  # noqa: E712

    wanted = [("researcher", ("researcher",), ("الباحثة هند", "الباحث سعد")),
              ("volunteer", ("volunteer",), ("المتطوع ماجد",)),
              ("manager", ("admin", "manager"), ("مدير البرامج",))]
    for role, holders, names in wanted:
        if of(*holders):
            continue
        for number, full_name in enumerate(names, start=1):
            username = f"demo.{role}{number}"
            while User.select().where(User.username == username).exists():
                number += len(names)
                username = f"demo.{role}{number}"
            password = users.generate_password()
            users.create_user(username, role, password, full_name=full_name, must_change_password=True)
            summary.users.append((username, role, password))
    return _Staff(researchers=of("researcher"), volunteers=of("volunteer"), deciders=of("manager", "admin"))


def person(rng: random.Random, nationality: str, gender: str) -> tuple[str, str]:
    """Return (first name, family name) fitting the nationality and gender."""
    if nationality in ARABIC_FAMILIES:
        first = rng.choice(ARABIC_MALE if gender == "male" else ARABIC_FEMALE)
        return first, rng.choice(ARABIC_FAMILIES[nationality])
    males, females, families = LATIN_NAMES[nationality]
    return rng.choice(males if gender == "male" else females), rng.choice(families)


def _identity(rng: random.Random, nationality: str) -> tuple[str, str]:
    """Return (id_type, id_number): citizens hold a national ID, most residents an iqama."""
    if nationality == "SA":
        return "national_id", saudi_id(rng, "1")
    roll = rng.random()
    if roll < 0.85:
        return "iqama", saudi_id(rng, "2")
    if roll < 0.95:
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 2)))
        return "passport", letters + "".join(rng.choice("0123456789") for _ in range(7))
    return "border_number", rng.choice("34") + "".join(rng.choice("0123456789") for _ in range(9))


def _beneficiaries(rng: random.Random, n: int, summary: DemoSummary) -> list[Beneficiary]:
    """Register n new beneficiaries; an ID already registered is skipped and another drawn."""
    codes_, weights = zip(*((code, w) for code, (w, _) in NATIONALITIES.items()))
    # Every collision is with a row that exists (or was just drawn), so this bound always suffices.
    attempts = n + Beneficiary.select().count() + 100
    created = []
    while len(created) < n and attempts > 0:
        attempts -= 1
        nationality = rng.choices(codes_, weights)[0]
        gender = rng.choice(("male", "female"))
        first, family = person(rng, nationality, gender)
        father, _ = person(rng, nationality, "male")
        id_type, id_number = _identity(rng, nationality)
        latin = nationality not in ARABIC_FAMILIES
        full_name = f"{first} {family}" if latin else f"{first} {father} {family}"
        age_days = rng.randint(18 * 365, 75 * 365)
        beneficiary = Beneficiary(
            full_name=full_name, latin_name=full_name if latin else None,
            id_type=id_type, id_number=id_number, nationality=nationality,
            language=NATIONALITIES[nationality][1], gender=gender,
            birth_date=(BASE_TIME - datetime.timedelta(days=age_days)).date(),
            mobile=saudi_mobile(rng),
            email=(f"{first}.{family}{rng.randint(1, 99)}@example.com".lower().replace(" ", "")
                   if latin and rng.random() < 0.4 else None),
            city=rng.choice(CITIES), district=rng.choice(DISTRICTS), category=rng.choice(CATEGORIES),
            consent_at=(BASE_TIME - datetime.timedelta(days=rng.randint(0, 400))) if rng.random() < 0.8 else None,
        )
        members = _household(rng, beneficiary, family) if rng.random() < 0.45 else []
        beneficiary.family_size = len(members) + 1
        try:
            beneficiaries.register(beneficiary)
        except DuplicateBeneficiary:
            summary.skipped += 1
            continue
        for member in members:
            member.beneficiary = beneficiary
            beneficiaries.normalize_member(member)
            member.save()
        summary.members += len(members)
        summary.beneficiaries += 1
        created.append(beneficiary)
    return created


def _household(rng: random.Random, holder: Beneficiary, family: str) -> list[HouseholdMember]:
    """Return a spouse and children; adults carry an ID of the holder's kind, young children none."""
    members = []
    spouse_gender = "female" if holder.gender == "male" else "male"
    id_first = {"national_id": "1", "iqama": "2"}.get(holder.id_type)
    if rng.random() < 0.8:
        first, _ = person(rng, holder.nationality, spouse_gender)
        members.append(HouseholdMember(
            name=f"{first} {family}", relation="زوجة" if spouse_gender == "female" else "زوج",
            id_type=holder.id_type if id_first else None, id_number=saudi_id(rng, id_first) if id_first else None,
            birth_date=holder.birth_date + datetime.timedelta(days=rng.randint(-2000, 2000))))
    for _ in range(rng.randint(0, 5)):
        gender = rng.choice(("male", "female"))
        first, _ = person(rng, holder.nationality, gender)
        age_days = rng.randint(0, 25 * 365)
        adult = age_days >= 15 * 365 and id_first is not None
        members.append(HouseholdMember(
            name=f"{first} {family}", relation="ابن" if gender == "male" else "ابنة",
            id_type=holder.id_type if adult else None, id_number=saudi_id(rng, id_first) if adult else None,
            birth_date=(BASE_TIME - datetime.timedelta(days=age_days)).date()))
    return members


def _path(source: str, target: str, rng: random.Random, seen: tuple = ()) -> list[str] | None:
    """Return a random route of statuses from source to target through workflow.TRANSITIONS."""
    if source == target:
        return []
    # Forward only: the steps back (more verification, a reopened decision) are not part of a generated history.
    options = [t.target for t in workflow.TRANSITIONS if t.source == source and t.target not in seen
               and t.guard is not evidence.guard_reopen
               and (t.source, t.target) != ("under_evaluation", "under_verification")]
    rng.shuffle(options)
    for step in options:
        rest = _path(step, target, rng, seen + (source,))
        if rest is not None:
            return [step] + rest
    return None


def _requests(rng: random.Random, people: list[Beneficiary], services: list[Service], staff: _Staff,
              summary: DemoSummary) -> None:
    """Create requests, at least one in every status, walked there through the workflow."""
    statuses = codes(STATUSES)
    targets = rng.sample(statuses, len(statuses))
    targets += rng.choices(statuses, k=max(0, round(len(people) * 1.3) - len(statuses)))
    # Every method with every outcome is seen at least once, then the rest is random.
    pending_visits = list(itertools.product(codes(VISIT_METHODS), codes(VISIT_OUTCOMES)))
    last_verified = None
    # (beneficiary, service) pairs with a request left open: policy P6.6 allows one at a time.
    open_pairs: set[tuple[int, int]] = set()
    for index, target in enumerate(targets):
        choice = None
        for attempt in range(20):
            beneficiary = people[index % len(people)] if index < len(people) and not attempt else rng.choice(people)
            # Care for new Muslims (a sensitive service) goes to residents, not to citizens.
            fitting = [s for s in services if not (s.sensitive and beneficiary.nationality == "SA")
                       and (beneficiary.id, s.id) not in open_pairs]
            if fitting:
                choice = beneficiary, rng.choice(fitting)
                break
        if choice is None:
            continue
        beneficiary, service = choice
        if target in workflow.OPEN_STATUSES:
            open_pairs.add((beneficiary.id, service.id))
        researcher = rng.choice(staff.researchers)
        volunteer = rng.choice(staff.volunteers)
        submitted_at = BASE_TIME - datetime.timedelta(days=rng.randint(1, 240), minutes=rng.randint(0, 600))
        route = _path("draft", target, rng)
        request = ServiceRequest(beneficiary=beneficiary, service=service, channel=rng.choice(codes(CHANNELS)),
                                 researcher=researcher if target != "draft" else None,
                                 created_by=volunteer.username if rng.random() < 0.3 else None)
        if "submitted" in route:
            # Policy P5.4: the applicant attests the data before it goes to study.
            request.submitted_at = submitted_at
            request.attestation_method = rng.choice(codes(ATTESTATION_METHODS))
            request.attestation_version = "2026.1"
            request.attested_at = submitted_at
            request.attested_by = volunteer
        requests.normalize_request(request)
        request.save()
        requests.assign_number(request)
        if route:
            # P6.1: what the service asks; drafts are still being filled in.
            _answers(rng, request, beneficiary)
        for step in route:
            roles = next(t.roles for t in workflow.TRANSITIONS if (t.source, t.target) == (request.status, step))
            pool = [u for u in [researcher, volunteer] + staff.deciders if u.role in roles]
            actor = rng.choice(pool) if request.status == "draft" else pool[0]
            if step in ("approved", "rejected"):
                request.decision = step
                request.decision_reason = ("استوفى الشروط المعتمدة." if step == "approved"
                                           else "لم يستوفِ شروط الخدمة المعتمدة.")
                request.decided_at = submitted_at + datetime.timedelta(days=rng.randint(2, service.decision_days + 5))
                request.decided_by = actor
                request.notified_at = request.decided_at + datetime.timedelta(days=1)
            # Generated history, like imported past requests: the guards' evidence (documents,
            # assessments, deliveries) is not generated, so only the table and roles apply.
            if step in ("approved", "rejected"):
                _evaluation(rng, request, researcher, step)
            workflow.change_status(request, step, actor, check_guards=False)
            if step == "delivered":
                _deliveries(rng, request, researcher)
            if step == "under_verification":  # _path never visits a status twice
                last_verified = request
                summary.visits += _visits(rng, request, researcher, submitted_at, rng.randint(1, 3), pending_visits)
                if "under_evaluation" in route:
                    # Evaluation follows only when every required mechanism confirmed the data (P6.5).
                    summary.visits += _confirm_required(request, researcher, submitted_at)
        summary.requests += 1
    if last_verified is not None and pending_visits:
        summary.visits += _visits(rng, last_verified, last_verified.researcher, BASE_TIME, len(pending_visits),
                                  pending_visits)


def _visits(rng: random.Random, request: ServiceRequest, researcher: User, since: datetime.datetime,
            count: int, pending: list) -> int:
    """Record verification visits on a request, taking still-unseen (method, outcome) pairs first."""
    methods = request.service.required_methods() or ["document_review"]
    for _ in range(count):
        if pending:
            fitting = [pair for pair in pending if pair[0] in methods] or pending
            method, outcome = fitting[0]
            pending.remove(fitting[0])
        else:
            method, outcome = rng.choice(methods), rng.choice(codes(VISIT_OUTCOMES) + [None])
        scheduled = since + datetime.timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8))
        VerificationVisit.create(
            request=request, method=method, scheduled_at=scheduled,
            performed_at=scheduled + datetime.timedelta(minutes=rng.randint(15, 120)) if outcome else None,
            performed_by=researcher if outcome else None,
            findings=FINDINGS.get(outcome), outcome=outcome)
    return count


def _confirm_required(request: ServiceRequest, researcher: User, since: datetime.datetime) -> int:
    """Add a confirmed visit for each required method the request's visits have not confirmed."""
    confirmed = {v.method for v in request.visits if v.outcome == "confirmed"}
    missing = [m for m in request.service.required_methods() if m not in confirmed]
    for method in missing:
        performed = since + datetime.timedelta(days=12)
        VerificationVisit.create(request=request, method=method, scheduled_at=performed, performed_at=performed,
                                 performed_by=researcher, findings=FINDINGS["confirmed"], outcome="confirmed")
    return len(missing)


def _answers(rng: random.Random, request: ServiceRequest, beneficiary: Beneficiary) -> None:
    """Answer the service's questions plausibly for the beneficiary."""
    for q in IntakeQuestion.select().where(IntakeQuestion.service == request.service_id):
        if q.kind == "number":
            value = str(rng.randint(1, 9) if "أفراد" in q.label_ar else rng.randrange(0, 6000, 250))
        elif q.kind == "choice":
            value = rng.choice(q.option_list())
        elif q.kind == "yes_no":
            value = rng.choice(("yes", "no"))
        elif q.kind == "date":
            value = (BASE_TIME - datetime.timedelta(days=rng.randint(30, 700))).date().isoformat()
        else:
            value = "—"
        IntakeAnswer.create(request=request, question=q, value=value)


def _evaluation(rng: random.Random, request: ServiceRequest, researcher: User, decision: str) -> None:
    """Assess every criterion and recommend, consistently with the decision that follows (P6.3)."""
    criteria = list(EvaluationCriterion.select().where(EvaluationCriterion.service == request.service_id))
    failing = rng.choice(criteria) if decision == "rejected" and criteria else None
    for criterion in criteria:
        CriterionAssessment.create(request=request, criterion=criterion, met=criterion != failing,
                                   note=None if criterion != failing else "لم يتحقق الشرط عند الزيارة.",
                                   assessed_by=researcher)
    Recommendation.create(request=request, recommendation="approve" if decision == "approved" else "reject",
                          given_by=researcher)


def _deliveries(rng: random.Random, request: ServiceRequest, researcher: User) -> None:
    """Record one to three deliveries (monthly aid is many) (P5.7)."""
    start = request.decided_at or BASE_TIME
    for month in range(rng.randint(1, 3)):
        Delivery.create(request=request, description=request.service.name_ar,
                        amount=rng.choice((300, 500, 800, 1000)), delivered_by=researcher,
                        delivered_at=start + datetime.timedelta(days=3 + 30 * month))
