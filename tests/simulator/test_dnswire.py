"""``dnswire.truncated``, which send uses to know when CoreDNS's UDP answer has TC set, says what the responder of
netns send (dnswire.encode_response, CoreDNS's Scrub) does with the same records."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.simulator import dnswire


def _answer(name: str, qtype: str, count: int, cname: str | None) -> list[tuple[str, str, str]]:
    owner = cname or name
    value = "10.244.{}.{}" if qtype == "A" else "fd00::{:x}:{:x}"
    head = [(name, "CNAME", cname)] if cname else []
    return head + [(owner, qtype, value.format(i // 250, i % 250)) for i in range(count)]


@settings(max_examples=150, deadline=None)
@given(label=st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True), qtype=st.sampled_from(["A", "AAAA"]),
       count=st.integers(0, 60), cname=st.booleans())
def test_truncated_is_the_tc_bit_of_the_responders_udp_answer(label, qtype, count, cname):
    name = f"{label}.default.svc.cluster.local"
    answers = _answer(name, qtype, count, "target.example.org" if cname else None)
    question = dnswire.Question(7, name, dnswire.TYPES[qtype], dnswire.RD)
    sent = dnswire.parse_response(dnswire.encode_response(question, "NOERROR", answers, "{}", dnswire.UDP_LIMIT))
    assert dnswire.truncated(name, qtype, answers) is sent.truncated
    assert not dnswire.truncated(name, qtype, answers, dnswire.TCP_LIMIT)


def test_the_boundary_of_a_headless_name_s_a_records():
    """47 bytes of header and question, 16 per compressed A record: 29 fit 512 bytes, 30 do not."""
    name = "big.default.svc.cluster.local"
    assert not dnswire.truncated(name, "A", _answer(name, "A", 29, None))
    assert dnswire.truncated(name, "A", _answer(name, "A", 30, None))
