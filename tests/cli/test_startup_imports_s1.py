"""``rules`` reaches its input without importing what only other paths use: each module here cost every run's
start-up several million instructions (callgrind) before the input was read, and nothing of the text path needs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLUSTER = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
     "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}]},
]}


def _loaded_by_rules(tmp_path: Path, watched: tuple[str, ...]) -> tuple[list[str], str]:
    """Which of ``watched`` a ``rules`` run in a fresh interpreter imported, and what it printed."""
    listing = tmp_path / "cluster.json"
    listing.write_text(json.dumps(CLUSTER))
    code = (f"import sys; from kubeproxy_sim.cli.main import main; main(['rules', '-f', {str(listing)!r}]); "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1].replace("'", '"')), out


def test_rules_into_a_pipe_starts_no_thread_machinery(tmp_path: Path) -> None:
    """Only a progress line drawn on a terminal starts a thread; a pipe (or a file, or a test) never does, so
    ``threading`` (~6M instructions to import) is not loaded, and the bar's lock is threading's own lock type."""
    loaded, out = _loaded_by_rules(tmp_path, ("threading",))
    assert loaded == []
    assert "-A KUBE-SERVICES -m comment --comment \"default/web cluster IP\"" in out


def test_the_progress_bar_still_draws_from_its_thread() -> None:
    """The lazily imported thread still animates the bar (a spinner, drawn once the delay has passed)."""
    import io
    import time

    from kubeproxy_sim.cli.output import progress

    stream = io.StringIO()
    with progress("working", stream=stream, enabled=True, delay=0.0):
        time.sleep(0.6)
    assert "working" in stream.getvalue() and stream.getvalue().endswith("\r\x1b[K")
