"""Our templates render with strict undefined names in the tests (issue 21): a typo fails, it does not vanish."""
import jinja2
import pytest
from conftest import _strict_templates


@pytest.fixture
def probe(app, tmp_path):
    """The app's templates strict for a folder holding one template that uses a name nobody passes."""
    (tmp_path / "probe.html").write_text("[{% if no_such_name %}x{% endif %}{{ no_such_name }}]", encoding="utf-8")
    env = app.jinja_env.overlay(loader=jinja2.FileSystemLoader(str(tmp_path)))
    saved = app.jinja_env.undefined
    _strict_templates(app, str(tmp_path))
    env.undefined = app.jinja_env.undefined
    yield env
    app.jinja_env.undefined = saved


def test_a_name_nobody_passed_fails_in_our_templates(probe):
    with pytest.raises(jinja2.UndefinedError, match="no_such_name"):
        probe.get_template("probe.html").render()


def test_templates_of_other_packages_keep_jinja_default(probe):
    """Flask-Admin's own templates test attributes their widgets may lack; they render as before."""
    assert probe.from_string("[{% if no_such_name %}x{% endif %}{{ no_such_name }}]").render() == "[]"


def test_the_test_application_renders_strictly(app):
    assert app.jinja_env.undefined.__name__ == "StrictInOurTemplates"
