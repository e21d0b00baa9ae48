"""One JSON List cut and decoded as bytes (objects.json_halves: each half decodes only its part of the file).

The halves must read what one decoding of the whole text reads: characters of two, three and four bytes on both
sides of the cut and in the List's fields; and leave to the whole reading what it reports (bytes that are no
UTF-8 in either half or in the head, a byte order mark). load.read_raw reads only regular files, and never opens
a FIFO (its writer's text would be lost to the reading that follows)."""

from __future__ import annotations

import codecs
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.objects.load import read_raw
from tests.cli.test_split_list import _messy_items, _split_by_halves
from tests.cli.test_split_sync import _service

WORDS = ("grüße", "日本語", "🚀 launch", "ǅ")
"""Characters of two, three and four bytes in UTF-8 (and a title-case one)."""


def _annotated(items: list[Any]) -> list[Any]:
    """Every Service with a non-ASCII annotation (its value only: keys must be names)."""
    out = []
    for i, item in enumerate(items):
        if type(item) is dict and item.get("kind") == "Service":
            meta = {**item["metadata"], "annotations": {"note": WORDS[i % len(WORDS)] * (i + 1)}}
            item = {**item, "metadata": meta}
        out.append(item)
    return out


def _raw_list(tmp_path: Path, items: list[Any], **fields: Any) -> Path:
    path = tmp_path / "list.json"
    document = {"apiVersion": "v1", "kind": "List", **fields, "items": items}
    path.write_bytes(json.dumps(document, ensure_ascii=False, indent=2).encode())
    return path


@pytest.mark.parametrize("head", [{}, {"metadata": {"annotations": {"by": "Jürgen 日本 🚀"}}}], ids=["plain", "head"])
def test_characters_of_many_bytes_read_in_halves(tmp_path: Path, head: dict[str, Any]) -> None:
    path = _raw_list(tmp_path, _annotated(_messy_items()), **head)
    assert any(byte >= 0x80 for byte in path.read_bytes())
    _split_by_halves(path, halves=True)


@pytest.mark.parametrize("where", ["parent", "child", "head"])
def test_bytes_that_are_no_utf8_are_the_whole_reading_s_to_report(tmp_path: Path, where: str) -> None:
    """A stray byte (0xff) in either half, or before the items: the halves give up, and the file is said to be
    unreadable as the one-process run says it."""
    items = _annotated(_messy_items())
    marker = {"parent": 1, "child": len(items) - 2, "head": None}[where]
    if marker is not None:
        items[marker] = {**_service("s77"), "metadata": {"name": "s77", "namespace": "ns",
                                                          "annotations": {"bad": "MARK"}}}
    path = _raw_list(tmp_path, items, **({"metadata": {"name": "MARK"}} if where == "head" else {}))
    path.write_bytes(path.read_bytes().replace(b"MARK", b"a\xffb"))
    _split_by_halves(path, halves=False)


@pytest.mark.parametrize("mark", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE], ids=["utf-8", "utf-16"])
def test_a_byte_order_mark_leaves_the_list_to_the_whole_reading(tmp_path: Path, mark: bytes) -> None:
    path = _raw_list(tmp_path, _messy_items())
    text = path.read_text()
    path.write_bytes(mark + text.encode("utf-8" if mark == codecs.BOM_UTF8 else "utf-16-le"))
    _split_by_halves(path, halves=False)


def test_read_raw_takes_regular_files_only(tmp_path: Path) -> None:
    path = _raw_list(tmp_path, _messy_items())
    assert read_raw(str(path)) == bytearray(path.read_bytes())
    assert read_raw(str(tmp_path)) is None
    assert read_raw(str(tmp_path / "missing.json")) is None
    assert read_raw("-") is None


def test_read_raw_never_opens_a_fifo(tmp_path: Path) -> None:
    """Opened, a FIFO would wait for a writer (and a writer's text be lost): read_raw returns at once."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    found: list[object] = []
    reader = threading.Thread(target=lambda: found.append(read_raw(str(fifo))), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert found == [None]
