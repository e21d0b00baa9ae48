"""send --pcap shows a progress bar while the frames are written (a --count 65535 run writes about a million)."""

from __future__ import annotations

from contextlib import contextmanager

from kubeproxy_sim.cli import send_cmd
from kubeproxy_sim.cli.main import main


def test_writing_the_pcap_ticks_once_a_frame(monkeypatch, tmp_path, capsys) -> None:
    bars: dict[str, list[int]] = {}

    @contextmanager
    def recording(label: str, total: int | None = None, **_kwargs: object):
        ticks: list[int] = []
        bars[label] = ticks

        def tick(n: int = 1) -> None:
            ticks.append(n)
        yield tick
        assert total is None or sum(ticks) <= total

    monkeypatch.setattr(send_cmd, "progress", recording)
    path = tmp_path / "out.pcap"
    assert main(["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--count", "3",
                 "--pcap", str(path)]) == 0
    written = int(capsys.readouterr().err.split("wrote ")[1].split(" packets")[0])
    assert written > 3 and sum(bars["writing the pcap"]) == written
    assert path.stat().st_size > 24
