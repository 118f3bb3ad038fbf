"""Service configuration over HTTP: questions and criteria are rows an administrator edits (P1.2, P6.1, P6.3)."""
import pytest

from models import EvaluationCriterion, IntakeQuestion, Service


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


def _create(client, **extra):
    data = {"name_ar": "كفالة يتيم", "name_en": "Orphan sponsorship", "decision_days": "14",
            "requires_document_review": "y", **extra}
    return client.post("/admin/service/new/", data=data, follow_redirects=True).get_data(as_text=True)


def test_manager_adds_a_service_with_its_questions_and_criteria(client, login_as):
    login_as("manager")
    _create(client, **{
        "questions-0-label_ar": " عدد  الأيتام ", "questions-0-label_en": "Number of orphans",
        "questions-0-kind": "number", "questions-0-required": "y", "questions-0-position": "1",
        "questions-0-active": "y",
        "questions-1-label_ar": "نوع السكن", "questions-1-label_en": "Housing", "questions-1-kind": "choice",
        "questions-1-options": "ملك\nإيجار", "questions-1-position": "2", "questions-1-active": "y",
        "criteria-0-text_ar": "الأب متوفى", "criteria-0-text_en": "Father deceased", "criteria-0-position": "1",
        "criteria-0-active": "y"})
    service = Service.get()
    questions = list(IntakeQuestion.select().order_by(IntakeQuestion.position))
    assert [(q.label_ar, q.kind, q.required) for q in questions] == [("عدد الأيتام", "number", True),
                                                                     ("نوع السكن", "choice", False)]
    assert questions[1].option_list() == ["ملك", "إيجار"]
    assert EvaluationCriterion.get().service_id == service.id


def test_a_choice_question_without_options_is_refused_and_nothing_is_saved(client, login_as):
    login_as("manager")
    html = _create(client, **{"questions-0-label_ar": "نوع السكن", "questions-0-label_en": "Housing",
                              "questions-0-kind": "choice", "questions-0-position": "1"})
    assert "A choice question needs its options" in html
    assert not Service.select().exists() and not IntakeQuestion.select().exists()


def test_researchers_read_services_but_cannot_change_their_criteria(client, login_as, service):
    login_as("researcher")
    assert client.get("/admin/service/").status_code == 200
    assert client.post(f"/admin/service/edit/?id={service.id}", data={"name_ar": "x"}).status_code == 403
