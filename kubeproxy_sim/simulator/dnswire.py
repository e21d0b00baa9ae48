"""DNS messages on the wire (RFC 1035), as much as ``netns send``'s query and its responder need, and ``send``
needs to know which answers CoreDNS truncates (:func:`truncated`): standard library only, so the servers and the
client that import it start fast. It lives in the simulator, which must not import the kernel backend.

A query asks one name of one type (A or AAAA) with recursion desired, as glibc's stub resolver does. A response
echoes its question and carries the answer section in order (a CNAME before what its target gives), cut to the
client's limit as CoreDNS cuts it (:func:`encode_response`: 512 bytes over UDP, so a large answer comes with TC set
and the client asks again over TCP, each message there after a two-byte length); the parser follows compression
pointers, so any server's answer reads.
The responder adds one TXT record to the additional section (owner :data:`WITNESS`), the JSON line the kernel's
servers answer with (pod, the source address it saw, the address the query arrived at), which a resolver ignores
and ``netns send`` uses to know who answered.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

TYPES = {"A": 1, "CNAME": 5, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
RCODE_NAMES = {v: k for k, v in RCODES.items()}
CLASS_IN = 1
QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
UDP_LIMIT = 512  # what CoreDNS answers a UDP query without EDNS0 with at most (glibc sends none by default)
TCP_LIMIT = 65535  # over TCP: what the two-byte length allows
LENGTH = struct.Struct("!H")  # the length before each message over TCP (RFC 1035 4.2.2)
TTL = 5  # CoreDNS's kubernetes plugin default
WITNESS = "responder.kpsim."
HEADER = struct.Struct("!HHHHHH")
MAX_POINTERS = 32  # a compression loop guard
ADDRESS_LENGTHS = {"A": 4, "AAAA": 16}


class WireError(ValueError):
    """A message that is not a DNS message of the shape expected."""


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    name: str  # lower case, no trailing dot
    qtype: int
    flags: int


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    rcode: str
    answers: tuple[tuple[str, str, str], ...]  # (owner, type name, value: an address or a CNAME target)
    witness: str  # the responder's TXT (see WITNESS), "" when there is none
    truncated: bool = False  # TC: the answer did not fit the UDP limit; the client asks again over TCP


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


def encode_query(qid: int, name: str, qtype: str) -> bytes:
    return HEADER.pack(qid, RD, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", TYPES[qtype], CLASS_IN)


def parse_query(data: bytes) -> Question | None:
    """The question of a standard query with one question; None for anything else (a probe's datagram)."""
    if len(data) < HEADER.size + 5:
        return None
    qid, flags, qdcount, ancount, _, _ = HEADER.unpack_from(data)
    if flags & QR or (flags >> 11) & 0xF or qdcount != 1 or ancount:
        return None
    try:
        name, offset = _read_name(data, HEADER.size)
    except WireError:
        return None
    if offset + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return Question(qid, name, qtype, flags) if qclass == CLASS_IN else None


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


def _scrubbed(name: str, qtype: int, answers: list[tuple[str, str, str]],
              limit: int) -> tuple[bytearray, list[int], int]:
    """CoreDNS's request.Scrub of an answer to ``name``: the message uncompressed when it fits ``limit``, else
    compressed, with where each part ends (:func:`_sections`) and how many whole records fit."""
    body, ends = _sections(name, qtype, answers, None)
    if ends[-1] > limit:
        body, ends = _sections(name, qtype, answers, {})
    return body, ends, max(k for k, end in enumerate(ends) if end <= limit or k == 0)


def truncated(name: str, qtype: str, answers: list[tuple[str, str, str]], limit: int = UDP_LIMIT) -> bool:
    """Whether CoreDNS's answer to ``name`` (its ``answers``: (owner, type, value), CNAMEs and addresses) has TC
    set over UDP: records left out, so the client asks again over TCP. The order of the addresses (CoreDNS's
    loadbalance shuffles them) changes neither their size nor how many fit, so no message ID is needed."""
    return _scrubbed(name, TYPES[qtype], answers, limit)[2] < len(answers)


def encode_response(question: Question, rcode: str, answers: list[tuple[str, str, str]], witness: str,
                    limit: int = TCP_LIMIT) -> bytes:
    """An authoritative answer to ``question``: its records in order, the witness TXT in the additional section.
    Cut to ``limit`` bytes as CoreDNS's request.Scrub cuts a reply: sent whole when it fits uncompressed, else
    compressed; when that does not fit either, the question is kept and as many whole records as fit, with TC
    set. The witness is ours, not CoreDNS's: it rides outside the limit (so the cut is what CoreDNS's would be)
    and is never cut (so who answered is known of a truncated answer too)."""
    body, ends, kept = _scrubbed(question.name, question.qtype, answers, limit)
    flags = QR | AA | (question.flags & RD) | RCODES[rcode] | (TC if kept < len(answers) else 0)
    return HEADER.pack(question.id, flags, 1, kept, 0, 1) + bytes(body[HEADER.size:ends[kept]]) + \
        _record(WITNESS, "TXT", witness)


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
    """A response's rcode, its answer section (A, AAAA and CNAME records; others left out) and the witness."""
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
    for index in range(ancount + nscount + arcount):
        owner, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise WireError("a record runs past the message's end")
        kind, _, _, length = struct.unpack_from("!HHIH", data, offset)
        start, offset = offset + 10, offset + 10 + length
        if offset > len(data):
            raise WireError("a record's data runs past the message's end")
        name = TYPE_NAMES.get(kind)
        if index < ancount and name in ("A", "AAAA"):
            if length != ADDRESS_LENGTHS[name]:
                raise WireError(f"an {name} record of {length} bytes (expected {ADDRESS_LENGTHS[name]})")
            family = socket.AF_INET if name == "A" else socket.AF_INET6
            answers.append((owner, name, socket.inet_ntop(family, data[start:offset])))
        elif index < ancount and name == "CNAME":
            answers.append((owner, name, _read_name(data, start)[0]))
        elif index >= ancount + nscount and name == "TXT" and owner == WITNESS.rstrip("."):
            witness = _txt(data[start:offset])
    return Reply(qid, RCODE_NAMES.get(flags & 0xF, str(flags & 0xF)), tuple(answers), witness, bool(flags & TC))


def _txt(rdata: bytes) -> str:
    out, offset = bytearray(), 0
    while offset < len(rdata):
        length = rdata[offset]
        out += rdata[offset + 1:offset + 1 + length]
        offset += 1 + length
    return out.decode(errors="replace")
