"""The one form reader of the tests (lxml): the forms a page renders, where they post and what they hold."""
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html


@dataclass
class Form:
    """One <form>: the path it is sent to, its method, and its fields with the values the page filled in."""

    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    # What each field is: the input's type ("text", "hidden", "checkbox" …), or "select", "textarea", "button".
    kinds: dict[str, str] = field(default_factory=dict)


def read_forms(page: str, page_url: str) -> list[Form]:
    """Return the forms of a page; an empty action posts to the page itself (as a browser does).

    Controls outside every form (Flask-Admin's row checkboxes, which its script adds to the action form when
    it is sent) are given to each POST form of the page.
    """
    if not page.strip():
        return []
    try:
        tree = lxml_html.fromstring(page)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    forms = []
    for element in tree.iter("form"):
        action = urljoin(page_url, element.get("action") or page_url)
        form = Form(action=urlsplit(action).path, method=(element.get("method") or "get").upper())
        _read_controls(element, form)
        forms.append(form)
    loose = Form(action="", method="")
    _read_controls(tree, loose, outside_forms=True)
    for form in forms:
        if form.method == "POST":
            for name, values in loose.fields.items():
                form.fields.setdefault(name, values)
                form.kinds.setdefault(name, loose.kinds[name])
    return forms


def _read_controls(element, form: Form, outside_forms: bool = False) -> None:
    for control in element.iter("input", "select", "textarea", "button"):
        name = control.get("name")
        if not name or (outside_forms and any(a.tag == "form" for a in control.iterancestors())):
            continue
        if control.tag == "select":
            chosen = [o.get("value", o.text or "") for o in control.iter("option") if o.get("selected") is not None]
            value = chosen[:1] or [next((o.get("value", o.text or "") for o in control.iter("option")), "")]
        elif control.tag == "textarea":
            value = [control.text or ""]
        elif control.get("type") in ("checkbox", "radio") and control.get("checked") is None and not outside_forms:
            value = []
        else:
            value = [control.get("value", "")]
        form.fields.setdefault(name, []).extend(value)
        form.kinds.setdefault(name, control.get("type", "text") if control.tag == "input" else control.tag)
