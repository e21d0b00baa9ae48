"""decode_slices._plain_slice_port builds its EndpointPort on a draft (objects.bulk.draft_class): it writes every
field of EndpointPort, and builds what EndpointPort's own ``__init__`` builds."""

from __future__ import annotations

import pytest

from kubeproxy_sim.objects import decode_slices
from kubeproxy_sim.objects.model import EndpointPort, Protocol
from tests.objects.test_draft_builders import field_names, written_attributes


def test_the_plain_slice_port_writes_every_field_of_endpoint_port() -> None:
    written = written_attributes(decode_slices._plain_slice_port, "plain") - {"__class__"}
    assert written == field_names(EndpointPort), (
        f"decode_slices._plain_slice_port writes {sorted(written)}; EndpointPort's fields are "
        f"{sorted(field_names(EndpointPort))}")


@pytest.mark.parametrize(("raw", "expected"), [
    ({"name": "http", "port": 8080, "protocol": "TCP"}, EndpointPort("http", 8080, Protocol.TCP, None)),
    ({"port": 53, "protocol": "UDP", "appProtocol": "dns"}, EndpointPort("", 53, Protocol.UDP, "dns")),
    ({"name": "", "port": 65535}, EndpointPort("", 65535, Protocol.TCP, None)),
])
def test_the_plain_slice_port_is_the_init_s(raw: dict[str, object], expected: EndpointPort) -> None:
    built = decode_slices._plain_slice_port(raw)
    assert type(built) is EndpointPort
    assert built == expected
    assert hash(built) == hash(expected)
    assert repr(built) == repr(expected)
