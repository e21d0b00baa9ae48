"""A scalar tagged ``!`` is go-yaml's string (``! y`` is "y", ``! 0o17`` "0o17") whatever form the loaders are given
the YAML in: a text, a stream, bytes of UTF-8 or UTF-16, with a byte order mark or not. The constructors tell such a
scalar by its place in the text (both parsers hand it on as plain); given a stream, the text was unknown and
``! y`` was read as true, and with a byte order mark libyaml's places are counted from after it, so the ``!`` was
looked for one character off."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable

import pytest
import yaml

from kubeproxy_sim.objects.load import manifest_loader, safe_load, strict_loader, whole_text

TEXT = "é: ! y\nb: ! 0o17\nc: y\nd: !!str 1\n"
AS_GO_YAML = {"é": "y", "b": "0o17", "c": True, "d": "1"}
FORMS: dict[str, Callable[[], str | bytes | io.StringIO | io.BytesIO]] = {  # (inferred: object)
    "text": lambda: TEXT,
    "text stream": lambda: io.StringIO(TEXT),
    "utf-8 bytes": lambda: TEXT.encode(),
    "utf-8 with a mark": lambda: codecs.BOM_UTF8 + TEXT.encode(),
    "utf-16 byte stream": lambda: io.BytesIO(TEXT.encode("utf-16")),
    "utf-16-be with a mark": lambda: codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "text with a mark": lambda: "\ufeff" + TEXT,
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("loader", [strict_loader, manifest_loader])
def test_a_non_specific_tag_keeps_the_text_in_any_form_of_input(loader, form) -> None:
    """(manifest_loader alone raised AttributeError on any ``!``-tagged scalar: it had no ``tagged``.)"""
    assert yaml.load(FORMS[form](), Loader=loader()) == AS_GO_YAML


def test_the_config_reader_keeps_the_text_after_a_mark() -> None:
    assert safe_load("\ufeff" + TEXT)[0] == AS_GO_YAML


def test_bytes_that_do_not_decode_are_refused_by_the_loader() -> None:
    """Handed on as they are: PyYAML's ReaderError says where, as before."""
    assert whole_text(b"a: ! \xff") == b"a: ! \xff"
    with pytest.raises(yaml.reader.ReaderError, match="position 5"):
        yaml.load(b"a: ! \xff", Loader=strict_loader())
