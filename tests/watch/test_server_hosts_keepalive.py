"""Go's resolver is asked at a dial only (net/http's Transport reuses an idle keep-alive connection without looking
the name up again; net/hosts.go reads the hosts file from a lookup): a hosts file that now sends the server's name
elsewhere changes nothing while the connection the watch has lives, and the next dial goes where the file says."""

from __future__ import annotations

from pathlib import Path

from ._kubeconfigs import port_of, with_user


def test_a_changed_hosts_file_is_read_at_the_next_dial_not_at_the_next_request(monkeypatch, tmp_path: Path) -> None:
    """Reviewer r3: the watch lists and watches over one keep-alive connection to myname.example. (127.0.0.1 in the
    hosts file); the file then says 127.0.0.9, where nothing listens. Go goes on over its connection; the parent
    looked the name up again at the first request 5 s on and failed each one ('connection refused'). Once the
    server hangs up, the next request dials, and Go's lookup reads the new line (refused there)."""
    from kubeproxy_sim.watch import Kind, apiserver
    from kubeproxy_sim.watch.apiserver import ApiServerSource

    from ._fake_apiserver import FakeApiServer
    from ._kubeconfigs import populate
    from .conftest import Mirror

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 myname.example\n")
    monkeypatch.setattr(apiserver, "HOSTS_FILE", str(hosts))
    now = [1000.0]
    server = FakeApiServer().start()
    try:
        populate(server)
        server.watch_seconds = 0.2  # (each watch ends cleanly and the next goes out over the same connection)
        kubeconfig = with_user(server, tmp_path / "kc", {}, server=f"http://myname.example.:{port_of(server)}")
        src = ApiServerSource(str(kubeconfig), kinds=[Kind.SERVICE], sleep=lambda _: None, clock=lambda: now[0])
        seen = Mirror(src.start())
        try:
            seen.until(lambda: Kind.SERVICE in seen.synced)
            hosts.write_text("127.0.0.9 myname.example\n")
            now[0] += 6.0
            asked = len(server.requests)
            seen.until(lambda: len(server.requests) >= asked + 3)
            assert not any("refused" in said for said in seen.said())
            server.hang_up_watches = 1
            seen.until(lambda: any("connection refused" in said for said in seen.said()))
        finally:
            src.close(timeout=2)
    finally:
        server.stop()
