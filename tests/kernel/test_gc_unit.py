"""netns gc's judgement of a cluster, with the kernel mocked: checked without root."""

from __future__ import annotations

import pytest


def test_gc_keeps_a_cluster_whose_owner_marker_cannot_be_read(tmp_path) -> None:
    """A failed read (here out of file descriptors) is not "no marker": the cluster may be live."""
    import errno
    from unittest import mock

    from kubeproxy_sim.kernel import build

    class FailingIPRoute:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise OSError(errno.EMFILE, "Too many open files")

    torn: list[str] = []

    def teardown(name: str, *_: object) -> list[str]:
        torn.append(name)
        return [name]

    with mock.patch.object(build.netns, "listnetns", return_value=["kpsim-demo.net", "kpsim-demo.node1"]), \
            mock.patch.object(build.os.path, "exists", return_value=True), \
            mock.patch.object(build.nsexec, "mounted", return_value=True), \
            mock.patch.object(build.nsexec, "iproute", FailingIPRoute), \
            mock.patch.object(build, "_age", return_value=3600.0), \
            mock.patch.object(build, "teardown", side_effect=teardown):
        with pytest.raises(OSError):
            build.read_owner("kpsim-demo.net")
        assert build.gc(tmp_path) == [] and torn == []


def test_building_owner_is_a_live_owner_of_a_cluster_not_yet_up() -> None:
    """What `down`, `send` and a second `up` name as "being built by process N"."""
    import os

    from kubeproxy_sim.kernel.state import building_owner, process_start

    start = process_start(os.getpid())
    assert start is not None  # this process's own start, read from /proc
    me = {"pid": os.getpid(), "start": start}
    assert building_owner({"status": "building", "owner": me}) == os.getpid()
    assert building_owner({"status": "verifying", "owner": me}) == os.getpid()
    assert building_owner({"status": "up", "owner": me}) is None  # its keeper owns it
    assert building_owner({"status": "building", "owner": {**me, "start": me["start"] + 1}}) is None  # pid reused
    assert building_owner({"status": "building", "owner": {"pid": os.getpid()}}) is None
    assert building_owner({"status": "building"}) is None
    assert building_owner(None) is None
