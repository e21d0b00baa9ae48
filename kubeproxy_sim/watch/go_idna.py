"""A kubeconfig server's non-ASCII host name as Go's HTTP client dials it and names it in its Host header.

Go's url.Parse takes any non-ASCII host, and net/http turns it into ASCII twice, with two profiles of
golang.org/x/net/idna: its transport dials ``idna.Lookup.ToASCII`` of the name (canonicalAddr's idnaASCII: UTS #46
mapping, non-transitional since go1.18, STD3 rules, hyphen, joiner and bidi checks) or, when that fails, the name
as it is, which its pure resolver (kubectl is built with CGO_ENABLED=0) never finds, as it is no domain name; and
its Request.write sends ``idna.Punycode.ToASCII`` of it (httpguts.PunycodeHostPort: each non-ASCII label encoded,
nothing mapped nor checked) as the Host header. kubectl 1.33, the oracle, in a network namespace of its own with
a local listener: ``http://\\u200b`` dialed :80 (U+200B is ignored: an empty host, the local system) with
"Host: xn--zug"; ``http://BÜCHER.example`` dialed xn--bcher-kva.example with "Host: xn--BCHER-2pa.example";
``straße.example`` looked up xn--strae-oqa.example (ß kept), ``☃.example`` xn--n3h.example; ``http://\\u0663``
(a label the bidi rule refuses) and ``a\\u200db.example`` (a joiner out of context) failed "dial tcp: lookup
\\u0663: no such host". urllib3 refused them all ("Name '\\u200b' is not a valid IDNA label") or dialed what
IDNA 2003 makes of them. The mapping table is the ``idna`` package's (which requests, and so the kubernetes
client, needs), the checks are Go's (validateLabel, validateFromPunycode, the bidi rule on every label of a name
with a right-to-left one).
"""

from __future__ import annotations

import unicodedata

_ACE = "xn--"
_JOINERS = ("\u200c", "\u200d")


def lookup_ascii(name: str) -> str | None:
    """``name`` (a URL's host name, without port or brackets) as Go's transport dials it: itself when it is
    ASCII (Go maps only a non-ASCII name), else idna.Lookup's ASCII form ("" for one of ignored code points
    alone: the local system); None when Lookup refuses it, and Go dials it as written."""
    if name.isascii():
        return name
    import idna.core

    try:
        mapped = idna.core.uts46_remap(name, std3_rules=True, transitional=False)
    except idna.IDNAError:
        return None
    decoded: list[str] = []
    for label in mapped.split("."):
        text = _decoded(label)
        if text is None or not _label_ok(text):
            return None
        decoded.append(text)
    if any(_right_to_left(label) for label in decoded) and not all(_bidi_ok(label) for label in decoded):
        return None
    return ".".join(_encoded(label) for label in decoded)


def punycode_ascii(name: str) -> str:
    """``name`` as Go's Request.write sends it in the Host header (idna.Punycode: each non-ASCII label "xn--" and
    its punycode, case kept; a "xn--" label decoded by Go's decode, nothing checked, and encoded again, so
    ``xn--`` is an empty label and ``xn--BCHER-KVA`` is ``xn--BCHER-kva``; a label Go cannot decode kept), or
    ``name`` itself when it is ASCII."""
    if name.isascii():
        return name
    labels = []
    for label in name.split("."):
        decoded = _go_decode(label[len(_ACE):]) if label.startswith(_ACE) else None
        labels.append(label if decoded is None else decoded)
    return ".".join(_encoded(label) for label in labels)


_DIGITS = {c: v for v, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789")} | {
    c: v for v, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
"""Punycode's digits, letters of either case read alike (Go's decodeDigit)."""

_INT32_MAX = 2**31 - 1


def _go_decode(encoded: str) -> str | None:
    """RFC 3492's decoding of what follows "xn--", as golang.org/x/net/idna's decode does it, or None where it
    fails: "" for nothing (Python's codec gives "" too, which punycode_ascii took for a failure), the part before
    the last "-" kept as it is, a label ending in "-" that part alone, one whose only "-" comes first refused, Go's
    int32 overflow checks and 1024 code points at most, and a surrogate as U+FFFD (Go's string of a rune)."""
    if not encoded:
        return ""
    dash = encoded.rfind("-")
    if dash == 0:
        return None
    if dash == len(encoded) - 1:
        return encoded[:-1]
    output = list(encoded[:dash]) if dash > 0 else []
    pos, i, n, bias = dash + 1, 0, 0x80, 72
    while pos < len(encoded):
        old_i, weight, k = i, 1, 36
        while True:
            if pos == len(encoded) or (digit := _DIGITS.get(encoded[pos])) is None:
                return None
            pos += 1
            i += digit * weight
            threshold = 1 if k <= bias else 26 if k >= bias + 26 else k - bias
            if i > _INT32_MAX:
                return None
            if digit < threshold:
                break
            weight *= 36 - threshold
            if weight > _INT32_MAX:
                return None
            k += 36
        if len(output) >= 1024:
            return None
        bias = _adapt(i - old_i, len(output) + 1, old_i == 0)
        n, i = n + i // (len(output) + 1), i % (len(output) + 1)
        if n > 0x10FFFF:
            return None
        output.insert(i, "\ufffd" if 0xD800 <= n <= 0xDFFF else chr(n))
        i += 1
    return "".join(output)


def _adapt(delta: int, points: int, first: bool) -> int:
    """RFC 3492's bias adaptation (section 6.1)."""
    delta = delta // 700 if first else delta // 2
    delta += delta // points
    k = 0
    while delta > (35 * 26) // 2:
        delta //= 35
        k += 36
    return k + 36 * delta // (delta + 38)


def host_port_ascii(hostport: str) -> str:
    """httpguts.PunycodeHostPort: a URL's HOST[:PORT] with its host :func:`punycode_ascii` (a host without a port,
    or that net.SplitHostPort cannot split, is taken whole)."""
    if hostport.isascii():
        return hostport
    host, port = _split_host_port(hostport)
    if port is None:
        return punycode_ascii(hostport)
    ascii_host = punycode_ascii(host)
    return f"[{ascii_host}]:{port}" if ":" in ascii_host else f"{ascii_host}:{port}"


def _split_host_port(hostport: str) -> tuple[str, str | None]:
    """net.SplitHostPort's host and port, or (hostport, None) where it fails (no port, colons unbracketed)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1:].startswith(":") or ":" in hostport[end + 2:]:
            return hostport, None
        return hostport[1:end], hostport[end + 2:]
    host, colon, port = hostport.rpartition(":")
    if not colon or ":" in host or "[" in host or "]" in host:
        return hostport, None
    return host, port


def _decoded(label: str) -> str | None:
    """A mapped label, an ACE one ("xn--...") decoded by Go's decode (:func:`_go_decode`: Python's codec took
    ``xn---x``, whose only "-" comes first, which Go refuses) and checked as Go's validateFromPunycode checks it
    (normal form C, every code point valid or a deviation); None where Go's Lookup fails it."""
    if not label.startswith(_ACE):
        return label
    text = _go_decode(label[len(_ACE):])
    if text is None or unicodedata.normalize("NFC", text) != text:
        return None
    import idna.core

    try:
        remapped = idna.core.uts46_remap(text, std3_rules=True, transitional=False)
    except idna.IDNAError:
        return None
    return text if remapped == text else None  # (a mapped or ignored code point is not valid here)


def _label_ok(label: str) -> bool:
    """Go's validateLabel (Lookup: checkHyphens, checkJoiners): no "--" at the third and fourth bytes, no hyphen
    at either end, no combining mark first, a zero-width joiner or non-joiner only where CONTEXTJ allows it."""
    if not label:
        return True
    raw = label.encode()
    if len(raw) > 4 and raw[2:4] == b"--":
        return False
    if label[0] == "-" or label[-1] == "-" or unicodedata.category(label[0]).startswith("M"):
        return False
    import idna.core

    try:
        return all(idna.core.valid_contextj(label, i) for i, c in enumerate(label) if c in _JOINERS)
    except (idna.IDNAError, ValueError):
        return False


def _right_to_left(label: str) -> bool:
    """Whether a label makes the name a bidi domain name to Go's Lookup (a code point of class R, AL or AN)."""
    return any(unicodedata.bidirectional(c) in ("R", "AL", "AN") for c in label)


def _bidi_ok(label: str) -> bool:
    """RFC 5893's bidi rule, which Go's Lookup applies to every label of a bidi domain name (bidirule.ValidString:
    a left-to-right label too; an empty one passes)."""
    if not label:
        return True
    import idna.core

    try:
        return bool(idna.core.check_bidi(label, check_ltr=True))
    except (idna.IDNAError, ValueError):
        return False


def _encoded(label: str) -> str:
    """A label in ASCII: itself when it is, else "xn--" and its punycode (Go's encode; case kept)."""
    return label if label.isascii() else _ACE + label.encode("punycode").decode("ascii")
