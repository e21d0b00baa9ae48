"""DNS messages on the wire (RFC 1035), as much as ``netns send``'s query and its responder need, and ``send``
needs to know which answers CoreDNS truncates (:func:`truncated`): standard library only, so the servers and the
client that import it start fast. It lives in the simulator, which must not import the kernel backend.

A query asks one name of one type (A or AAAA) with recursion desired, as glibc's stub resolver does, with an EDNS0
OPT record when resolv.conf has ``options edns0`` (:func:`resolver_opt`). A response echoes its question and
carries the answer section in order (a CNAME before what its target gives), cut to the client's limit as CoreDNS
cuts it (:func:`encode_response`: over UDP 512 bytes, or the payload size an OPT record advertises, so a large
answer comes with TC set and the client asks again over TCP, each message there after a two-byte length), and
CoreDNS's OPT record when the query had one; the parser follows compression pointers, so any server's answer
reads.
The responder adds one TXT record to the additional section (owner :data:`WITNESS`), the JSON line the kernel's
servers answer with (pod, the source address it saw, the address the query arrived at), which a resolver ignores
and ``netns send`` uses to know who answered.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

TYPES = {"A": 1, "CNAME": 5, "TXT": 16, "AAAA": 28, "OPT": 41}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
RCODE_NAMES = {v: k for k, v in RCODES.items()}
CLASS_IN = 1
QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
UDP_LIMIT = 512  # what CoreDNS answers a UDP query without EDNS0 with at most, and the least an OPT's size counts as
TCP_LIMIT = 65535  # over TCP: what the two-byte length allows
GLIBC_EDNS_SIZE = 1200
"""The UDP payload size glibc's stub resolver advertises in its OPT record (``options edns0``: RES_USE_EDNS0):
RESOLV_EDNS_BUFFER_SIZE (resolv/resolv-internal.h), what __res_context_query passes __res_nopt for getaddrinfo's
queries, chosen to keep answers from being fragmented."""
ECHOED_OPTIONS = frozenset({3, 9, 10, 11, 12})
"""The EDNS0 option codes CoreDNS keeps when it echoes a query's OPT record (request.supportedOptions: NSID, EXPIRE,
COOKIE, TCP-KEEPALIVE, PADDING; plugins may register more, the kubernetes plugin none)."""
OPT_FIXED = struct.Struct("!HHIH")  # after the OPT's root owner: type, class (the payload size), TTL, data length
FRAGMENT_LIMITS = {4: 1480, 6: 1220}  # request.Scrub compresses a UDP answer past these even when it fits (NSD's)
LENGTH = struct.Struct("!H")  # the length before each message over TCP (RFC 1035 4.2.2)
TTL = 5  # CoreDNS's kubernetes plugin default
WITNESS = "responder.kpsim."
HEADER = struct.Struct("!HHHHHH")
MAX_POINTERS = 32  # a compression loop guard
ADDRESS_LENGTHS = {"A": 4, "AAAA": 16}


class WireError(ValueError):
    """A message that is not a DNS message of the shape expected."""


@dataclass(frozen=True, slots=True)
class Opt:
    """An EDNS0 OPT record (RFC 6891 6.1): the UDP payload size its sender takes (the record's class), its TTL
    field (extended rcode, version, the DO bit and the other flags) and its options, (code, data) in order."""

    payload: int
    ttl: int = 0
    options: tuple[tuple[int, bytes], ...] = ()

    def encode(self) -> bytes:
        data = b"".join(LENGTH.pack(code) + LENGTH.pack(len(value)) + value for code, value in self.options)
        return b"\0" + OPT_FIXED.pack(TYPES["OPT"], self.payload, self.ttl, len(data)) + data


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    name: str  # lower case, no trailing dot
    qtype: int
    flags: int
    opt: Opt | None = None  # the query's EDNS0 OPT record (the last in its additional section, as miekg/dns's IsEdns0)


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    rcode: str
    answers: tuple[tuple[str, str, str], ...]  # (owner, type name, value: an address or a CNAME target)
    witness: str  # the responder's TXT (see WITNESS), "" when there is none
    truncated: bool = False  # TC: the answer did not fit the UDP limit; the client asks again over TCP
    opt: Opt | None = None  # the answer's EDNS0 OPT record


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else ():
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise WireError(f"the label {label!r} of {name!r} is empty or longer than 63 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\0")


def _put_name(out: bytearray, name: str, seen: dict[str, int] | None) -> None:
    """Write ``name`` at the end of ``out``; with ``seen`` (each suffix written so far, by offset), its longest
    suffix already written as a pointer to it (RFC 1035 4.1.4), as miekg/dns compresses a message CoreDNS must
    make smaller."""
    labels = name.rstrip(".").split(".") if name.strip(".") else []
    for index, label in enumerate(labels):
        suffix = ".".join(labels[index:]).lower()
        if seen is not None and suffix in seen:
            out += LENGTH.pack(0xC000 | seen[suffix])
            return
        if seen is not None and len(out) < 0x4000:  # a pointer has 14 bits
            seen[suffix] = len(out)
        out += encode_name(label)[:-1]
    out += b"\0"


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` and the offset after it (after the first pointer, when it has one)."""
    labels: list[str] = []
    end = None
    for _ in range(MAX_POINTERS):
        if offset >= len(data):
            raise WireError("a name runs past the message's end")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise WireError("a compression pointer runs past the message's end")
            end = offset + 2 if end is None else end
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length == 0:
            return ".".join(labels).lower(), offset + 1 if end is None else end
        labels.append(data[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    raise WireError("too many compression pointers (a loop)")


def resolver_opt(edns0: bool) -> Opt | None:
    """The OPT record glibc's stub resolver adds to its query (__res_nopt): only with ``options edns0``, advertising
    :data:`GLIBC_EDNS_SIZE`, version 0, no flags (DO only with RES_USE_DNSSEC, which resolv.conf cannot set) and
    no options."""
    return Opt(GLIBC_EDNS_SIZE) if edns0 else None


def encode_query(qid: int, name: str, qtype: str, opt: Opt | None = None) -> bytes:
    question = encode_name(name) + struct.pack("!HH", TYPES[qtype], CLASS_IN)
    if opt is None:
        return HEADER.pack(qid, RD, 1, 0, 0, 0) + question
    return HEADER.pack(qid, RD, 1, 0, 0, 1) + question + opt.encode()


def _records(data: bytes, offset: int, count: int) -> list[tuple[str, int, int, int, int]]:
    """``count`` records from ``offset``, each (owner, type, class, TTL, where its data starts: :func:`_rdata_of`),
    checked to lie within the message."""
    out = []
    for _ in range(count):
        owner, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise WireError("a record runs past the message's end")
        kind, klass, ttl, length = struct.unpack_from("!HHIH", data, offset)
        out.append((owner, kind, klass, ttl, offset + 10))
        offset += 10 + length
        if offset > len(data):
            raise WireError("a record's data runs past the message's end")
    return out


def _rdata_of(data: bytes, start: int) -> bytes:
    """The data of the record whose data starts at ``start`` (its length is the two bytes before it)."""
    return data[start:start + LENGTH.unpack_from(data, start - 2)[0]]


def _opt(klass: int, ttl: int, rdata: bytes) -> Opt:
    """An OPT record read: its options, each a code, a length and that many bytes."""
    options, offset = [], 0
    while offset < len(rdata):
        if offset + 4 > len(rdata):
            raise WireError("an EDNS0 option runs past its OPT record's data")
        code, length = struct.unpack_from("!HH", rdata, offset)
        if offset + 4 + length > len(rdata):
            raise WireError("an EDNS0 option runs past its OPT record's data")
        options.append((code, rdata[offset + 4:offset + 4 + length]))
        offset += 4 + length
    return Opt(klass, ttl, tuple(options))


def parse_query(data: bytes) -> Question | None:
    """The question of a standard query with one question, and its OPT record; None for anything else (a probe's
    datagram, or a message that does not read to its last record)."""
    if len(data) < HEADER.size + 5:
        return None
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & QR or (flags >> 11) & 0xF or qdcount != 1 or ancount:
        return None
    try:
        name, offset = _read_name(data, HEADER.size)
        if offset + 4 > len(data):
            return None
        qtype, qclass = struct.unpack_from("!HH", data, offset)
        extra = _records(data, offset + 4, nscount + arcount)[nscount:]
        opts = [_opt(klass, ttl, _rdata_of(data, start)) for _, kind, klass, ttl, start in extra
                if kind == TYPES["OPT"]]
    except WireError:
        return None
    return Question(qid, name, qtype, flags, opts[-1] if opts else None) if qclass == CLASS_IN else None


def _rdata(kind: str, value: str) -> bytes:
    if kind == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if kind == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    raw = value.encode()  # TXT: character strings of at most 255 bytes
    return b"".join(bytes([len(chunk)]) + chunk for chunk in (raw[i:i + 255] for i in range(0, len(raw), 255)))


def _put_record(out: bytearray, owner: str, kind: str, value: str, seen: dict[str, int] | None = None) -> None:
    _put_name(out, owner, seen)
    out += struct.pack("!HHI", TYPES[kind], CLASS_IN, TTL)
    start = len(out) + 2
    out += b"\0\0"
    if kind == "CNAME":  # a name in the data: compressed too
        _put_name(out, value, seen)
    else:
        out += _rdata(kind, value)
    out[start - 2:start] = LENGTH.pack(len(out) - start)


def _record(owner: str, kind: str, value: str) -> bytes:
    out = bytearray()
    _put_record(out, owner, kind, value)
    return bytes(out)


def _sections(name: str, qtype: int, answers: list[tuple[str, str, str]],
              seen: dict[str, int] | None) -> tuple[bytearray, list[int]]:
    """The message from the question on (its header left zero), and where it ends after the question and after
    each record (compressed with ``seen``, else not)."""
    out = bytearray(HEADER.size)
    _put_name(out, name, seen)
    out += struct.pack("!HH", qtype, CLASS_IN)
    ends = [len(out)]
    for answer in answers:
        _put_record(out, *answer, seen=seen)
        ends.append(len(out))
    return out, ends


def reply_size(opt: Opt | None, over_tcp: bool) -> int:
    """CoreDNS's request.Size, the most its answer may be: over TCP what a message can be; over UDP the payload
    size the query's OPT record advertises, taken as 512 when it is less (edns.Size, RFC 6891 6.2.5) and bounded
    only by its 16 bits, and 512 without one."""
    if over_tcp:
        return TCP_LIMIT
    return max(opt.payload if opt is not None else 0, UDP_LIMIT)


def _echoed(opt: Opt | None) -> Opt | None:
    """The OPT record CoreDNS's request.SizeAndDo tacks on the answer to a query with ``opt``: the query's own,
    its payload size kept, of its TTL only the byte with the DO bit (``Ttl &= 0xff00``: extended rcode, version
    and the flags' low byte cleared), and only the options it supports (:data:`ECHOED_OPTIONS`)."""
    if opt is None:
        return None
    return Opt(opt.payload, opt.ttl & 0xFF00, tuple(o for o in opt.options if o[0] in ECHOED_OPTIONS))


def _scrubbed(name: str, qtype: int, answers: list[tuple[str, str, str]], limit: int,
              compress_past: int = TCP_LIMIT) -> tuple[bytearray, list[int], int]:
    """CoreDNS's request.Scrub of an answer to ``name``, with miekg/dns's Msg.Truncate: the message uncompressed
    when it fits ``limit`` (what CoreDNS's size leaves after its OPT record, which Truncate counts in both tries)
    and ``compress_past`` (Scrub's last try against fragments), else compressed, with where each part ends
    (:func:`_sections`) and how many whole records fit."""
    body, ends = _sections(name, qtype, answers, None)
    if ends[-1] > min(limit, compress_past):
        body, ends = _sections(name, qtype, answers, {})
    return body, ends, max(k for k, end in enumerate(ends) if end <= limit or k == 0)


def _room(opt: Opt | None, over_tcp: bool, family: int = 4) -> tuple[bytes, int, int]:
    """The OPT record CoreDNS's answer carries (b"" without one), the room its other parts have, and past how
    many bytes of them Scrub compresses an answer that fits (over UDP: past FRAGMENT_LIMITS with the OPT, which
    only a payload size over glibc's reaches)."""
    echoed = _echoed(opt)
    extra = echoed.encode() if echoed is not None else b""
    past = TCP_LIMIT if over_tcp else FRAGMENT_LIMITS[family] - len(extra)
    return extra, reply_size(opt, over_tcp) - len(extra), past


def truncated(name: str, qtype: str, answers: list[tuple[str, str, str]], opt: Opt | None = None) -> bool:
    """Whether CoreDNS's answer to ``name`` (its ``answers``: (owner, type, value), CNAMEs and addresses) has TC
    set over UDP, the query carrying ``opt`` (:func:`resolver_opt`): records left out, so the client asks again
    over TCP. The order of the addresses (CoreDNS's loadbalance shuffles them) changes neither their size nor how
    many fit, so no message ID is needed."""
    return _scrubbed(name, TYPES[qtype], answers, _room(opt, False)[1])[2] < len(answers)


def encode_response(question: Question, rcode: str, answers: list[tuple[str, str, str]], witness: str, *,
                    over_tcp: bool = True, family: int = 4) -> bytes:
    """An authoritative answer to ``question``: its records in order, CoreDNS's OPT record when the question had one
    and the witness TXT in the additional section. Cut as CoreDNS's request.Scrub cuts a reply to the size the
    transport and the query's OPT allow (:func:`reply_size`): sent whole when it fits uncompressed, else compressed;
    when that does not fit either, the question is kept and as many whole records as fit, with TC set. Over UDP an
    answer that fits is compressed too when it is more than 1480 bytes (1220 when ``family``, the client's, is 6).
    The witness is ours, not CoreDNS's: it rides outside the limit (so the cut is what CoreDNS's would be) and is
    never cut (so who answered is known of a truncated answer too)."""
    extra, room, past = _room(question.opt, over_tcp, family)
    body, ends, kept = _scrubbed(question.name, question.qtype, answers, room, past)
    flags = QR | AA | (question.flags & RD) | RCODES[rcode] | (TC if kept < len(answers) else 0)
    return HEADER.pack(question.id, flags, 1, kept, 0, 1 + bool(extra)) + bytes(body[HEADER.size:ends[kept]]) + \
        extra + _record(WITNESS, "TXT", witness)


def encode_failure(data: bytes, witness: str) -> bytes | None:
    """A SERVFAIL answer to the query ``data`` (None: it is no query), its question echoed as it came: what a
    responder that failed answers, the witness saying why (so nothing here can fail on the question's name)."""
    if parse_query(data) is None:
        return None
    end = _read_name(data, HEADER.size)[1] + 4
    qid, flags = HEADER.unpack_from(data)[:2]
    header = HEADER.pack(qid, QR | (flags & RD) | RCODES["SERVFAIL"], 1, 0, 0, 1)
    return header + data[HEADER.size:end] + _record(WITNESS, "TXT", witness)


def parse_response(data: bytes) -> Reply:
    """A response's rcode, its answer section (A, AAAA and CNAME records; others left out), the witness and the
    OPT record."""
    if len(data) < HEADER.size:
        raise WireError("shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if not flags & QR:
        raise WireError("not a response")
    offset = HEADER.size
    for _ in range(qdcount):
        offset = _read_name(data, offset)[1] + 4
    answers: list[tuple[str, str, str]] = []
    witness = ""
    opt = None
    for index, (owner, kind, klass, ttl, start) in enumerate(_records(data, offset, ancount + nscount + arcount)):
        rdata = _rdata_of(data, start)
        name = TYPE_NAMES.get(kind)
        if index < ancount and name in ("A", "AAAA"):
            if len(rdata) != ADDRESS_LENGTHS[name]:
                raise WireError(f"an {name} record of {len(rdata)} bytes (expected {ADDRESS_LENGTHS[name]})")
            family = socket.AF_INET if name == "A" else socket.AF_INET6
            answers.append((owner, name, socket.inet_ntop(family, rdata)))
        elif index < ancount and name == "CNAME":
            answers.append((owner, name, _read_name(data, start)[0]))
        elif index >= ancount + nscount and name == "TXT" and owner == WITNESS.rstrip("."):
            witness = _txt(rdata)
        elif index >= ancount + nscount and name == "OPT":
            opt = _opt(klass, ttl, rdata)
    return Reply(qid, RCODE_NAMES.get(flags & 0xF, str(flags & 0xF)), tuple(answers), witness, bool(flags & TC),
                 opt)


def _txt(rdata: bytes) -> str:
    out, offset = bytearray(), 0
    while offset < len(rdata):
        length = rdata[offset]
        out += rdata[offset + 1:offset + 1 + length]
        offset += 1 + length
    return out.decode(errors="replace")
