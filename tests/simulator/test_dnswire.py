"""``dnswire.truncated``, which send uses to know when CoreDNS's UDP answer has TC set, says what the responder of
netns send (dnswire.encode_response, CoreDNS's Scrub) does with the same records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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
    sent = dnswire.parse_response(dnswire.encode_response(question, "NOERROR", answers, "{}", over_tcp=False))
    assert dnswire.truncated(name, qtype, answers) is sent.truncated
    assert not dnswire.parse_response(dnswire.encode_response(question, "NOERROR", answers, "{}")).truncated


def test_the_boundary_of_a_headless_name_s_a_records():
    """47 bytes of header and question, 16 per compressed A record: 29 fit 512 bytes, 30 do not."""
    name = "big.default.svc.cluster.local"
    assert not dnswire.truncated(name, "A", _answer(name, "A", 29, None))
    assert dnswire.truncated(name, "A", _answer(name, "A", 30, None))


WITNESS_RECORD = 17 + 10 + 3  # responder.kpsim uncompressed, type/class/TTL/length, the TXT "{}": outside the cut


def _sent(name: str, qtype: str, answers: list[tuple[str, str, str]]) -> tuple[int, bool]:
    """The size of the responder's UDP answer without its witness, and whether TC is set."""
    question = dnswire.Question(7, name, dnswire.TYPES[qtype], dnswire.RD)
    raw = dnswire.encode_response(question, "NOERROR", answers, "{}", over_tcp=False)
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


# ---------------------------------------------------------------------------- EDNS0: options edns0 in resolv.conf

GLIBC_OPT = dnswire.resolver_opt(True)
OPT_RECORD = 11  # the root name, type, class, TTL, data length: glibc's OPT and CoreDNS's echo of it


def _sent_with(opt: dnswire.Opt | None, name: str, qtype: str, answers: list[tuple[str, str, str]],
               family: int = 4) -> tuple[bytes, int, bool]:
    """The responder's UDP answer to a query with ``opt``, its size without the witness, and whether TC is set."""
    question = dnswire.Question(7, name, dnswire.TYPES[qtype], dnswire.RD, opt)
    raw = dnswire.encode_response(question, "NOERROR", answers, "{}", over_tcp=False, family=family)
    return raw, len(raw) - WITNESS_RECORD, dnswire.parse_response(raw).truncated


def test_glibc_s_query_carries_an_opt_record_only_with_options_edns0():
    """__res_nopt by hand: the root name, type 41, class 1200 (RESOLV_EDNS_BUFFER_SIZE), TTL 0 (extended rcode 0,
    version 0, no DO bit), no data, ARCOUNT 1; without edns0 the query has none."""
    name = "web.default.svc.cluster.local"
    plain, edns = dnswire.encode_query(9, name, "A"), dnswire.encode_query(9, name, "A", GLIBC_OPT)
    assert dnswire.resolver_opt(False) is None and dnswire.Opt(1200) == GLIBC_OPT
    assert edns == plain[:10] + b"\x00\x01" + plain[12:] + b"\x00\x00\x29\x04\xb0\x00\x00\x00\x00\x00\x00"
    assert dnswire.parse_query(edns) == dnswire.Question(9, name, 1, dnswire.RD, dnswire.Opt(1200))
    assert dnswire.parse_query(plain) == dnswire.Question(9, name, 1, dnswire.RD)


@pytest.mark.parametrize(("qtype", "record", "fit"), [("A", 16, 71), ("AAAA", 28, 40)])
def test_the_boundaries_of_an_edns0_answer_are_glibc_s_1200_bytes_with_the_opt_record(qtype, record, fit):
    """By hand, from miekg/dns's Truncate as CoreDNS's Scrub calls it after SizeAndDo put the query's OPT (11 bytes)
    in the answer: the OPT counts against the 1200 bytes. 47 bytes to the question's end, 16 per compressed A
    record: 47 + 71 * 16 + 11 = 1194 fit, a 72nd (1210) does not; 28 per AAAA: 47 + 40 * 28 + 11 = 1178, a 41st
    1206. Without the OPT the same name's answers stop at 29 and 16 (above)."""
    name = "big.default.svc.cluster.local"
    assert not dnswire.truncated(name, qtype, _answer(name, qtype, fit, None), GLIBC_OPT)
    assert dnswire.truncated(name, qtype, _answer(name, qtype, fit + 1, None), GLIBC_OPT)
    size = 47 + fit * record + OPT_RECORD
    assert _sent_with(GLIBC_OPT, name, qtype, _answer(name, qtype, fit, None))[1:] == (size, False)
    assert _sent_with(GLIBC_OPT, name, qtype, _answer(name, qtype, fit + 1, None))[1:] == (size, True)


@pytest.mark.parametrize(("payload", "fit"), [(1194, 71), (1193, 70), (511, 28), (0, 28), (512, 28), (1210, 72)])
def test_the_advertised_size_is_coredns_s_limit_at_least_512_and_the_opt_counts(payload, fit):
    """edns.Size (and Truncate) take a payload size under 512 as 512; the answer's OPT still takes its 11 bytes,
    so an EDNS0 query of 512 gets one A record fewer than a query without EDNS0 (28, not 29). 1194 is exactly 71
    records with the OPT (above), so 1193 holds 70; 1210 exactly 72."""
    name = "big.default.svc.cluster.local"
    opt = dnswire.Opt(payload)
    assert not dnswire.truncated(name, "A", _answer(name, "A", fit, None), opt)
    assert dnswire.truncated(name, "A", _answer(name, "A", fit + 1, None), opt)


def test_an_answer_that_fits_uncompressed_with_the_opt_is_sent_uncompressed():
    """Truncate's first try counts the OPT too: 47 + 25 * 45 (an uncompressed A record: 31 + 10 + 4) + 11 = 1183
    fits 1200 and goes as it is; 26 (1228) is compressed (47 + 26 * 16 + 11 = 474) and whole."""
    name = "big.default.svc.cluster.local"
    raw, size, cut = _sent_with(GLIBC_OPT, name, "A", _answer(name, "A", 25, None))
    assert (size, cut, b"\xc0\x0c" in raw) == (1183, False, False)
    raw, size, cut = _sent_with(GLIBC_OPT, name, "A", _answer(name, "A", 26, None))
    assert (size, cut, b"\xc0\x0c" in raw) == (474, False, True)


def test_an_answer_past_the_fragment_limits_is_compressed_though_it_fits():
    """request.Scrub compresses a UDP answer that fits the client's size but is more than 1480 bytes (IPv4) or
    1220 (IPv6), as a client advertising 4096 sees: 47 + 32 * 45 + 11 = 1498 over IPv4; 47 + 20 * 57 + 11 = 1198
    (20 uncompressed AAAA records) stays, 21 (1255) is compressed over IPv6. Over TCP nothing is compressed."""
    name, big = "big.default.svc.cluster.local", dnswire.Opt(4096)
    assert b"\xc0\x0c" not in _sent_with(big, name, "A", _answer(name, "A", 31, None))[0]  # 1453
    assert _sent_with(big, name, "A", _answer(name, "A", 32, None))[1:] == (47 + 32 * 16 + 11, False)
    assert _sent_with(big, name, "AAAA", _answer(name, "AAAA", 20, None), 6)[1:] == (1198, False)
    assert _sent_with(big, name, "AAAA", _answer(name, "AAAA", 21, None), 6)[1:] == (47 + 21 * 28 + 11, False)
    question = dnswire.Question(7, name, 1, dnswire.RD, big)
    assert b"\xc0\x0c" not in dnswire.encode_response(question, "NOERROR", _answer(name, "A", 95, None), "{}")


def test_coredns_echoes_the_query_s_opt_record_as_size_and_do_does():
    """SizeAndDo tacks the query's own OPT on the answer: its payload size kept (even one under 512), of its TTL
    the byte with the DO bit (Ttl &= 0xff00), of its options those CoreDNS supports (a COOKIE, not a client
    subnet); it goes before the witness. A query without one gets none."""
    name = "web.default.svc.cluster.local"
    asked = dnswire.Opt(300, 0x8123, ((8, b"\x00\x01\x18\x00\x0a\x00\x00"), (10, b"12345678")))
    raw = _sent_with(asked, name, "A", _answer(name, "A", 2, None))[0]
    reply = dnswire.parse_response(raw)
    assert reply.opt == dnswire.Opt(300, 0x8100, ((10, b"12345678"),)) and reply.witness == "{}"
    assert raw[10:12] == b"\x00\x02" and dnswire.Opt(300, 0x8100, ((10, b"12345678"),)).encode() in raw
    assert dnswire.parse_response(_sent_with(None, name, "A", _answer(name, "A", 2, None))[0]).opt is None


@settings(max_examples=150, deadline=None)
@given(label=st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True), qtype=st.sampled_from(["A", "AAAA"]),
       count=st.integers(0, 120), cname=st.booleans(), payload=st.integers(0, 2000))
def test_truncated_with_an_opt_is_the_tc_bit_of_the_responder_s_answer(label, qtype, count, cname, payload):
    name = f"{label}.default.svc.cluster.local"
    answers = _answer(name, qtype, count, "target.example.org" if cname else None)
    opt = dnswire.Opt(payload)
    raw, size, cut = _sent_with(opt, name, qtype, answers)
    assert dnswire.truncated(name, qtype, answers, opt) is cut
    assert size <= max(payload, 512) and dnswire.parse_response(raw).opt == opt


def test_a_query_whose_additional_section_does_not_read_is_no_query():
    """miekg/dns reads a message to its last record; one whose OPT runs past its end, or whose option does, is
    not a query the responder answers (the server's JSON line goes back, as to any datagram)."""
    query = dnswire.encode_query(1, "a.b", "A", dnswire.Opt(1200, 0, ((10, b"12345678"),)))
    assert dnswire.parse_query(query) is not None
    assert dnswire.parse_query(query[:-1]) is None
    assert dnswire.parse_query(query[:-10] + b"\x00\x09" + query[-8:]) is None  # the cookie's length past the end


SEND_DOC = (Path(__file__).resolve().parents[2] / "docs" / "send.md").read_text(encoding="utf-8")
FITS = re.compile(r"⌊\((\d+) − L\) / (\d+)⌋\s+(A|AAAA)\s+records,\s+(\d+)")


def _name(length: int) -> str:
    """A name of ``length`` characters (labels of 9 and the rest)."""
    dots = (length - 1) // 10
    return "a" * 9 + "." + _name(length - 10) if dots else "a" * length


def test_readme_s_record_counts_are_where_truncated_cuts():
    """docs/send.md's counts of the A and AAAA records that fit a UDP answer, without EDNS0 and then with glibc's, hold
    for any name length (every remainder of 16 and 28, twice over, and the longest name): that many fit, one more
    is cut; and its examples are a 30-character name's counts."""
    formulas = FITS.findall(SEND_DOC)
    assert [qtype for _, _, qtype, _ in formulas] == ["A", "AAAA", "A", "AAAA"]
    for (constant, size, qtype, example), edns in zip(formulas, (False, False, True, True), strict=True):
        opt = dnswire.resolver_opt(edns)
        assert (int(constant) - 30) // int(size) == int(example)
        for length in (*range(1, 57), 253):
            name, fit = _name(length), (int(constant) - length) // int(size)
            assert len(name) == length
            assert not dnswire.truncated(name, qtype, _answer(name, qtype, fit, None), opt), (length, qtype, edns)
            assert dnswire.truncated(name, qtype, _answer(name, qtype, fit + 1, None), opt), (length, qtype, edns)
