"""The migrations build exactly the schema the models describe, and the README's tables match the code."""
from pathlib import Path

from playhouse.schema_diff import diff_models

from models import ALL_MODELS, db
from services.workflow import transition_table_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_migrations_produce_the_models_schema(app):
    """A model change without its migration would lose data on upgrade: catch it here."""
    assert not diff_models(db.obj, ALL_MODELS), "models changed without a migration in migrations/"


def test_readme_shows_the_transition_table_of_the_code():
    assert transition_table_markdown() in README.read_text(encoding="utf-8")
