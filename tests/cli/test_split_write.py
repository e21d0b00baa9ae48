"""``rules`` writes a split sync's text in parts (Synced.write_text): the same bytes as one process renders whole."""

from __future__ import annotations

import io

import pytest

from kubeproxy_sim.cli import split_sync
from kubeproxy_sim.cli.main import build_parser


@pytest.mark.parametrize("per_write", [1, 2, 3, 7, 4096])
def test_written_in_parts_is_the_whole_text(per_write: int, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(["rules", "--scenario", "upstream-overall-iptables-rules"])
    synced = split_sync.load_and_generate(args, text=True, threshold=2)  # (split: its text comes in many pieces)
    assert synced.pieces is not None and len(synced.pieces) > 7
    monkeypatch.setattr(split_sync, "WRITE_PIECES", per_write)
    out = io.StringIO()
    synced.write_text(out)
    whole = split_sync.load_and_generate(args, text=True, threshold=10**9)
    assert whole.pieces is not None and len(whole.pieces) == 1  # (one process: its text is one piece)
    assert out.getvalue() == whole.pieces[0] and out.getvalue().endswith("COMMIT\n")
