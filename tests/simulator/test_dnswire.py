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


WITNESS_RECORD = 17 + 10 + 3  # responder.kpsim uncompressed, type/class/TTL/length, the TXT "{}": outside the cut


def _sent(name: str, qtype: str, answers: list[tuple[str, str, str]]) -> tuple[int, bool]:
    """The size of the responder's UDP answer without its witness, and whether TC is set."""
    question = dnswire.Question(7, name, dnswire.TYPES[qtype], dnswire.RD)
    raw = dnswire.encode_response(question, "NOERROR", answers, "{}", dnswire.UDP_LIMIT)
    return len(raw) - WITNESS_RECORD, dnswire.parse_response(raw).truncated


def test_the_boundary_of_a_headless_name_s_aaaa_records():
    """Review r4 3, by hand: 12 bytes of header, 31 of name, 4 of type and class; a compressed AAAA record is a
    2-byte pointer, 10 bytes of type/class/TTL/length and 16 of address: 47 + 16 * 28 = 495 fit 512, and the
    seventeenth (523) does not, so the answer keeps 16 with TC set."""
    name = "big.default.svc.cluster.local"
    assert not dnswire.truncated(name, "AAAA", _answer(name, "AAAA", 16, None))
    assert dnswire.truncated(name, "AAAA", _answer(name, "AAAA", 17, None))
    assert _sent(name, "AAAA", _answer(name, "AAAA", 16, None)) == (495, False)
    assert _sent(name, "AAAA", _answer(name, "AAAA", 17, None)) == (495, True)


def test_the_boundary_of_an_external_name_s_cname_and_its_target_s_records():
    """Review r4 3, by hand: an ExternalName Service's name answered with its CNAME to a headless Service's name
    and that name's A records. 47 bytes to the question's end; the CNAME is a pointer, 10 bytes and its target
    web.other compressed against the question's svc.cluster.local (1+3 + 1+5 + 2 = 12): 71; each A record of the
    target a pointer to it, 10 bytes and 4: 16. 71 + 27 * 16 = 503 fit, the twenty-eighth (519) does not."""
    name, target = "ext.default.svc.cluster.local", "web.other.svc.cluster.local"
    assert not dnswire.truncated(name, "A", _answer(name, "A", 27, target))
    assert dnswire.truncated(name, "A", _answer(name, "A", 28, target))
    assert _sent(name, "A", _answer(name, "A", 27, target)) == (503, False)
    assert _sent(name, "A", _answer(name, "A", 28, target)) == (503, True)
