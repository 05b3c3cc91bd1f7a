"""The text rules accept and refuse the same strings in Python and in the OpenAPI schema's
regex dialect (schemathesis found a link with U+0085 that the schema allowed and the backend
refused)."""

import pytest
from pydantic import TypeAdapter, ValidationError

from backend.wire import Link, Name

links = TypeAdapter(Link)
names = TypeAdapter(Name)


@pytest.mark.parametrize("bad", ["https://a\u0085b", "https://a\u009fb", "https://a\ufeffb"])
def test_links_with_controls_or_invisible_marks_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        links.validate_python(bad)


@pytest.mark.parametrize("bad", ["\u0085", "\ufeff", "Nova\u0085", " \u0085 "])
def test_names_refuse_c1_controls_and_byte_order_marks_alone(bad: str) -> None:
    with pytest.raises(ValidationError):
        names.validate_python(bad)


def test_ordinary_names_and_links_pass() -> None:
    assert names.validate_python("  Nova Ø  ") == "Nova Ø"
    assert links.validate_python("https://nova.example/ü") == "https://nova.example/ü"
