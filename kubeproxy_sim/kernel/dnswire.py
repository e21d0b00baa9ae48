"""DNS messages on the wire (RFC 1035), as much as ``netns send``'s query and its responder need: standard library
only, so the servers and the client that import it start fast.

A query asks one name of one type (A or AAAA) with recursion desired, as glibc's stub resolver does. A response
echoes its question and carries the answer section in order (a CNAME before what its target gives), written
without name compression; the parser follows compression pointers all the same, so any server's answer reads.
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
QR, AA, RD = 0x8000, 0x0400, 0x0100
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


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else ():
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise WireError(f"the label {label!r} of {name!r} is empty or longer than 63 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\0")


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
    if kind == "CNAME":
        return encode_name(value)
    raw = value.encode()  # TXT: character strings of at most 255 bytes
    return b"".join(bytes([len(chunk)]) + chunk for chunk in (raw[i:i + 255] for i in range(0, len(raw), 255)))


def _record(owner: str, kind: str, value: str) -> bytes:
    rdata = _rdata(kind, value)
    return encode_name(owner) + struct.pack("!HHIH", TYPES[kind], CLASS_IN, TTL, len(rdata)) + rdata


def encode_response(question: Question, rcode: str, answers: list[tuple[str, str, str]], witness: str) -> bytes:
    """An authoritative answer to ``question``: its records in order, the witness TXT in the additional section."""
    header = HEADER.pack(question.id, QR | AA | (question.flags & RD) | RCODES[rcode], 1, len(answers), 0, 1)
    body = encode_name(question.name) + struct.pack("!HH", question.qtype, CLASS_IN)
    return header + body + b"".join(_record(*a) for a in answers) + _record(WITNESS, "TXT", witness)


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
    return Reply(qid, RCODE_NAMES.get(flags & 0xF, str(flags & 0xF)), tuple(answers), witness)


def _txt(rdata: bytes) -> str:
    out, offset = bytearray(), 0
    while offset < len(rdata):
        length = rdata[offset]
        out += rdata[offset + 1:offset + 1 + length]
        offset += 1 + length
    return out.decode(errors="replace")
