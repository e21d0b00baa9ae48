"""Loading manifests the way ``kubectl apply -f`` takes them, into a :class:`Cluster`.

Files and directories (their *.yaml, *.yml and *.json files, sorted, not
recursive) or stdin; YAML or JSON; several documents per file; ``kind: List``
and ``kind: XxxList`` wrappers. Each object is decoded and checked on its own:
a bad object is reported and skipped, everything else is still used, and a
YAML syntax error costs only the broken document. Nothing here raises for bad
input; everything the user should know ends up in ``LoadResult.diagnostics``.
"""

from __future__ import annotations

import codecs
import dataclasses
import errno
import functools
import itertools
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn, TypedDict, TypeVar

from kubeproxy_sim.builtin_folder import RULESETS
from kubeproxy_sim.errors import Diagnostic, Severity, cannot_read
from kubeproxy_sim.objects.aliases import AliasingError, check_aliases, may_alias
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.decode import DEFAULT_NAMESPACE, decode_service, object_name
from kubeproxy_sim.objects.decode_nodes import decode_node, decode_pod
from kubeproxy_sim.objects.decode_slices import SERVICE_NAME_LABEL, decode_endpoint_slice, decode_endpoints
from kubeproxy_sim.objects.fields import SCHEMAS, check_fields
from kubeproxy_sim.objects.jsonkey import INT64, go_key, json_key
from kubeproxy_sim.objects.mirror import Endpoints, mirror_endpoints
from kubeproxy_sim.objects.model import Cluster, EndpointSlice, Origin, Service
from kubeproxy_sim.objects.notes import sliceless_services, stray_slices
from kubeproxy_sim.objects.overlap import conflicting_copies
from kubeproxy_sim.objects.report import (
    Report,
    WrittenNumber,
    joined,
    named_if_inexact,
    not_a_string,
    quote,
    type_name,
)
from kubeproxy_sim.objects.stdin import (
    ENDLESS_DEVICE,
    EndlessDevice,
    StdinUnreadable,
    byte_order_mark,
    decoded,
    read_all,
    read_stdin,
)
from kubeproxy_sim.objects.stdin import NAME as STDIN_NAME
from kubeproxy_sim.objects.values import value_class

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
BUILT_IN = str(RULESETS)
"""The built-in scenarios' folder (:data:`kubeproxy_sim.builtin_folder.RULESETS`, the CLI's too), resolved, as a
string for a file's realpath to be compared with: its files' Deployments go unsaid (see :func:`built_in`)."""
SCENARIO_KINDS = frozenset({"Deployment"})
"""The kinds not read that the built-in scenarios' files carry (bootcamp's Deployment, which ``scenario``
plays): any other kind there is a mistake to be noted as anywhere (``kind: EndpointSlices``)."""
STDIN = "-"
MANIFEST_FLAG = "-f"
"""The flag a manifest path is named by in a read problem's message, unless its reader says another."""
MANIFEST_EXPECTED = "a YAML or JSON manifest file, a directory of them, or - for standard input"
"""What a manifest path should name, said when what it names cannot be read."""
PathNames = Mapping[str, tuple[str, str]]
"""Per path given, the flag that gave it and what it should name, when these are not the reader's one flag's (a
scenario's objects.yaml, named by --scenario: not "or - for standard input", which it did not come from)."""
MANIFEST_FILE_EXPECTED = ("a YAML or JSON manifest file (listing a directory, kubectl follows no symbolic link to "
                          "another directory, nor does this)")
"""What a directory's manifest entry should be, said when it is a link to a directory (the one way a directory is
opened as a file here: a directory given is listed)."""

_Decoder = Callable[[dict[str, Any], Origin, Report, str, tuple[str, str, str] | None], Any]
"""(raw object, its origin, its report, where it is, object_name's (namespace, name, display) of it, read by the
loader) -> the decoded object or None."""
_DECODERS: dict[str, tuple[str, _Decoder, bool]] = {
    # kind: (apiVersion, decoder, namespaced)
    "Service": ("v1", decode_service, True),
    "Endpoints": ("v1", decode_endpoints, True),
    "EndpointSlice": ("discovery.k8s.io/v1", decode_endpoint_slice, True),
    "Node": ("v1", decode_node, False),
    "Pod": ("v1", decode_pod, True),
}


@value_class
class LoadResult:
    """The cluster built from every usable object, and what was found along the way."""

    cluster: Cluster
    diagnostics: tuple[Diagnostic, ...] = ()
    positions: tuple[tuple[int, int], ...] = ()
    """Per diagnostic, where in the input it arose (an ordering key): a split load merges its shares' messages
    back into input order by it (see :class:`Share`)."""
    endpoints: tuple[Endpoints, ...] = ()
    """The v1 Endpoints read; with ``mirror=False`` they are not turned into EndpointSlices (a caller that reads
    file by file mirrors them once it holds every Service: see :func:`mirror_one`)."""
    unparsed: tuple[Diagnostic, ...] = ()
    """The messages of :func:`load_text`'s documents that did not parse (a syntax error, YAML or JSON nested too
    deep, an iptables-save dump), also in ``diagnostics``: with ``whole_file``, what holds the file back (a
    document refused over its aliases parses: it is skipped, as in a one-shot load). Known by where they arose,
    not by their words, which an object's value may quote."""

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors


# -- public entry points ----------------------------------------------------------------------------

Document = tuple[str, int, Any]
"""(file, document index in the file, the parsed document or the Diagnostic of why it could not be read)."""


@value_class
class Share:
    """The objects one process of a split load decodes (``kubeproxy-sim rules`` on a large cluster).

    A Service, and the EndpointSlices and Endpoints of its service, belong to
    the share whose range [low, high) of ``namespace/name`` holds the
    service's name: a sync writes services in that order, so the shares'
    rules concatenate into the unsplit result. Every other object (Nodes,
    Pods) is decoded by every share: the shares report the same messages about
    it, at the same position, and whoever merges them keeps one copy.
    """

    low: str = ""
    high: str | None = None

    def owns(self, key: str) -> bool:
        return self.low <= key and (self.high is None or key < self.high)


@value_class
class Elsewhere:
    """A List item another process of a split load decodes, in its place among the items this one reads
    (objects.json_halves: each process parses half of a large List and only the other half's items it needs).

    It keeps the item numbers and positions of every message what a whole reading gives; ``service``, the
    ``namespace/name`` of a Service item, is what a share learns of another share's Service by reading it.
    """

    service: str | None = None


ObjectHook = Callable[[dict[str, Any]], None]
"""Called with each raw object the loader reads (a List's items too, once expanded; any kind that is a string), in
input order, whatever its decoding finds: the watch and replay record what the model drops of a slice by it, and
the watch which version of an object a message was about."""


SKIPPED = "this document is skipped"
"""How a syntax error's message ends in a one-shot load: the broken document alone is lost."""
HELD_BACK = "the whole file is held back until it parses"
"""How it ends with ``whole_file=True`` (the watch, which keeps the file's previous objects until it parses)."""


def load_text(text: str, file: str = "<memory>", *, mirror: bool = True, on_object: ObjectHook | None = None,
              whole_file: bool = False) -> LoadResult:
    """Load the manifests in one text (YAML or JSON, one or more documents); ``mirror=False`` leaves v1
    Endpoints unmirrored (in ``LoadResult.endpoints``), for a caller whose Services are in other texts;
    ``whole_file``: a syntax error says the whole file is held back (:data:`HELD_BACK`), not its document."""
    with collector_paused(objects_in(len(text))):  # millions of acyclic containers: see objects.bulk
        parsed = _parse_documents(text, file, HELD_BACK if whole_file else SKIPPED)
        result = decode_documents(_numbered(parsed, file), mirror=mirror, on_object=on_object)
    unparsed = tuple(d for d in parsed if type(d) is Diagnostic)  # (a _Judged document parsed)
    return dataclasses.replace(result, unparsed=unparsed) if unparsed else result


def load_paths(paths: Sequence[str], *, on_object: ObjectHook | None = None, overlaps: bool = True,
               read_elsewhere: frozenset[str] = frozenset(), flag: str = MANIFEST_FLAG,
               named: PathNames | None = None) -> LoadResult:
    """Load files, directories and stdin ("-"), in the order given, later objects replacing earlier ones;
    ``overlaps=False`` leaves the slices' overlaps unsaid, for a caller that adds these objects to others it
    holds and asks about the whole (``scenario``'s ``apply -f``: see ``watch.overlaps``); ``read_elsewhere``: kinds
    the caller reads itself (``scenario``'s Deployments), skipped here without a note; ``flag``: what a file that
    cannot be read is said to be named by (``--against``, ``STATE``); ``named``: the paths given by another flag
    (see :data:`PathNames`)."""
    with collector_paused(objects_in(input_bytes(paths))):  # millions of acyclic containers: see objects.bulk
        return decode_documents(read_documents(paths, flag, named), on_object=on_object, overlaps=overlaps,
                                read_elsewhere=read_elsewhere)


def objects_in(size: int) -> int:
    """About how many objects loading manifests of ``size`` bytes builds (YAML or JSON: 21-24 a kilobyte)."""
    return size // 40


def input_bytes(paths: Sequence[str]) -> int:
    """The size of the files the paths stand for, from their metadata (stdin and unreadable paths count 0)."""
    total = 0
    for path in paths:
        try:
            if path == STDIN:
                continue
            if os.path.isdir(path):
                total += sum(e.stat().st_size for e in os.scandir(path)
                             if e.name.endswith(MANIFEST_SUFFIXES) and e.is_file())
            else:
                total += os.stat(path).st_size
        except OSError:
            continue
    return total


def read_documents(paths: Sequence[str], flag: str = MANIFEST_FLAG,
                   named: PathNames | None = None) -> Iterator[Document]:
    """Every document of every path, in order, parsed file by file as they are consumed; a file that cannot be
    read is said to be named by ``flag``, or by what ``named`` says of its path."""
    for file, text, problem in read_texts(paths, flag, named):
        yield from texts_documents(file, text, problem)


def read_texts(paths: Sequence[str], flag: str = MANIFEST_FLAG,
               named: PathNames | None = None) -> Iterator[tuple[str, str, Diagnostic | None]]:
    """(display name, text, problem) of every file the paths stand for, unparsed: :func:`read_documents`'
    reading, for a caller that parses a text its own way (cli.split_sync, which reads one large file with
    :func:`read_raw`, to parse a JSON List in halves)."""
    for path in paths:
        said = named.get(path, (flag, MANIFEST_EXPECTED)) if named else (flag, MANIFEST_EXPECTED)
        yield from _read_path(path, *said)


def read_raw(path: str) -> bytearray | None:
    """A regular file's bytes in one buffer, not decoded: cli.split_sync's reading of what may be one large JSON
    List, which each process decodes half of (objects.json_halves). None for anything else (a directory, a FIFO,
    a device, standard input, a file that cannot be read or changed size while read): :func:`read_texts` reads
    those, and says what is wrong. Looked at before it is opened: a FIFO opened here would lose its writer's
    text to the reading that follows."""
    try:
        if path == STDIN or not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = bytearray(size)
            with memoryview(data) as view:
                got = 0
                while got < size and (count := handle.readinto(view[got:])):
                    got += count
            return data if got == size and not handle.read(1) else None
    except OSError:
        return None


def raw_text(data: bytearray, path: str, named: PathNames | None = None) -> tuple[str, str, Diagnostic | None]:
    """:func:`read_texts`' entry of a file :func:`read_raw` read: (display name, text, problem)."""
    said = named.get(path, (MANIFEST_FLAG, MANIFEST_EXPECTED)) if named else (MANIFEST_FLAG, MANIFEST_EXPECTED)
    return _read_bytes(data, path, "in this file", *said)


def texts_documents(file: str, text: str, problem: Diagnostic | None) -> Iterator[Document]:
    """The documents of one of :func:`read_texts`' entries: its problem, or its text's documents."""
    if problem is not None:
        yield file, 0, problem
    else:
        yield from text_documents(text, file)


def text_documents(text: str, file: str) -> Iterator[Document]:
    """The documents of one text, each with its index; a document's messages (:class:`_Judged`) come before what
    is used of it, under its index."""
    return _numbered(_parse_documents(text, file), file)


def _numbered(parsed: Iterable[Any], file: str) -> Iterator[Document]:
    """:func:`_parse_documents`'s documents as :data:`Document` entries (see :func:`text_documents`)."""
    for index, document in enumerate(parsed):
        if type(document) is _Judged:
            for entry in document.entries:
                yield file, index, entry
        else:
            yield file, index, document


def decode_documents(documents: Iterable[Document], share: Share | None = None, *,
                     mirror: bool = True, on_object: ObjectHook | None = None, overlaps: bool = True,
                     read_elsewhere: frozenset[str] = frozenset()) -> LoadResult:
    """Decode and check parsed documents into a cluster; with a share, only that share's objects; ``on_object``
    sees each raw object (see :data:`ObjectHook`); ``overlaps``, ``read_elsewhere``: see :func:`load_paths`."""
    builder = _Builder(share, on_object, read_elsewhere)
    for file, index, document in documents:
        builder.add_document(document, file, index)
    return builder.finish(mirror, overlaps)


def service_key(document: Any) -> str | None:
    """``namespace/name`` of the service a raw Service, EndpointSlice or Endpoints belongs to; None for other
    objects. Read leniently (an object that fails its checks later still needs a share)."""
    if type(document) is not dict:
        return None
    kind = document.get("kind")
    if kind == "Service" or kind == "Endpoints":
        return object_name(document)[2]
    if kind != "EndpointSlice":
        return None
    return _slice_service_key(document)


def _slice_service_key(document: dict[str, Any], namespace: str | None = None) -> str:
    """:func:`service_key` of a raw EndpointSlice: its namespace (``namespace`` when already read, as
    object_name reads it) and its service-name label, without the display name object_name would also make
    (every share reads every slice's key)."""
    meta = document.get("metadata")
    if type(meta) is not dict:
        meta = {}
    if namespace is None:
        namespace = meta.get("namespace")
        if type(namespace) is not str or not namespace:
            namespace = DEFAULT_NAMESPACE
    labels = meta.get("labels")
    service = labels.get(SERVICE_NAME_LABEL) if type(labels) is dict else None
    return f"{namespace}/{service if type(service) is str else ''}"


# -- reading files ----------------------------------------------------------------------------------


def _read_path(path: str, flag: str, expected: str) -> Iterator[tuple[str, str, Diagnostic | None]]:
    """(display name, text, problem) for each file a path stands for; ``flag``, ``expected``: what a problem
    reading it says (:func:`manifest_unreadable`)."""
    if path == STDIN:
        yield _read_stdin(flag, expected)
        return
    if os.path.isdir(path):
        try:
            files = manifest_entries(path)
        except OSError as exc:  # (a directory is read by listing it)
            yield path, "", manifest_unreadable(path, exc, flag, expected)
            return
        if not files:
            yield path, "", Diagnostic(f"no *.yaml, *.yml or *.json files in this directory{_below(path)}",
                                       file=path, severity=Severity.WARNING)
        for file in files:
            yield _read_file(file, flag, expected)
        return
    yield _read_file(path, flag, expected)


def manifest_entries(directory: str, *, recursive: bool = False, keep_unlisted: bool = False) -> list[str]:
    """The files of a directory that ``kubectl apply -f DIR`` reads: its entries named *.yaml, *.yml or *.json,
    sorted, but its subdirectories; ``recursive`` (``-R``): its subdirectories' too, walked as kubectl walks them
    (see :func:`manifest_walk`). Raises OSError when the directory cannot be listed, or, unless
    ``keep_unlisted``, one of its subdirectories; with it, such a subdirectory is kept in its place, for its
    reading to say that it cannot be listed while the files around it are still read."""
    found = []
    for path, problem in manifest_walk(directory, recursive=recursive):
        if problem is not None and not keep_unlisted:
            raise problem
        found.append(path)
    return found


def manifest_walk(directory: str, *, recursive: bool = False) -> Iterator[tuple[str, OSError | None]]:
    """(path, None) for each manifest of a directory in kubectl's order (entries in name order, a
    subdirectory's files in its place; a directory named *.yaml is walked, a link to a directory is not), and
    (path, why) for each subdirectory that cannot be listed, in its place. A symbolic link is kept whatever it
    points at (nothing, itself, a directory): reading it then says what is wrong, as kubectl does. Lazy, so a
    caller may stop at the first; iterative, so a tree of any depth is walked. Raises OSError when the
    directory itself cannot be listed."""
    levels = [iter(_sorted_entries(directory))]
    while levels:
        entry = next(levels[-1], None)
        if entry is None:
            levels.pop()
        elif not entry.is_dir(follow_symlinks=False):
            if entry.name.endswith(MANIFEST_SUFFIXES):
                yield entry.path, None
        elif recursive:
            try:
                levels.append(iter(_sorted_entries(entry.path)))
            except OSError as exc:
                yield entry.path, exc


def _sorted_entries(directory: str) -> list[os.DirEntry[str]]:
    with os.scandir(directory) as scan:
        return sorted(scan, key=lambda entry: entry.name)


def _below(directory: str) -> str:
    """What a directory with no manifests of its own holds in its subdirectories, which are read only with -R (for
    its warning); "" when none, or when they cannot be listed. The walk stops at the first manifest: counting them
    all took seconds for a directory such as /usr."""
    try:
        if not any(problem is None for _, problem in manifest_walk(directory, recursive=True)):
            return ""
    except OSError:
        return ""
    return "; its subdirectories hold some, which are read with -R (--recursive), as kubectl reads them"


def manifest_unreadable(path: str, exc: OSError | UnicodeDecodeError, flag: str = MANIFEST_FLAG,
                        expected: str = MANIFEST_EXPECTED) -> Diagnostic:
    """Why a manifest path could not be read (opened, listed, or its bytes decoded), in errors.cannot_read's one
    line, as every file a flag names is said (a dangling link or a loop of them named so); ``expected``: what the
    path should name (a directory met while reading a listed file: the file it should have been)."""
    expected = MANIFEST_FILE_EXPECTED if isinstance(exc, IsADirectoryError) else expected
    return Diagnostic(cannot_read(exc, expected), file=path, field=flag)


def special_file(path: str) -> str | None:
    """What a path is when it is neither a regular file nor a directory (``a FIFO``, ``a socket``, ``a device``):
    reading it may wait for a writer, or fail; None otherwise (or when it cannot be looked at)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return special_kind(mode)


def special_kind(mode: int) -> str | None:
    """:func:`special_file`'s answer for a ``st_mode`` a caller has already looked up (one stat, not two: the file
    could change between them)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"


def _read_file(path: str, flag: str, expected: str) -> tuple[str, str, Diagnostic | None]:
    try:
        with open(path, "rb") as handle:  # (a FIFO waits for its writer, as kubectl's read does)
            data = read_all(handle)
        if data is None:
            raise EndlessDevice(errno.EFBIG, ENDLESS_DEVICE, path)
    except OSError as exc:
        return path, "", manifest_unreadable(path, exc, flag, expected)
    return _read_bytes(data, path, "in this file", flag, expected)


def _read_stdin(flag: str, expected: str) -> tuple[str, str, Diagnostic | None]:
    """Standard input's text (see objects.stdin): a second "-" is warned of, having nothing left to read."""
    try:
        data = read_stdin()
    except StdinUnreadable as exc:
        if exc.read_already:
            return STDIN_NAME, "", Diagnostic(f"{exc.reason}; this '-' adds no objects; expected '-' given once",
                                              file=STDIN_NAME, severity=Severity.WARNING)
        return STDIN_NAME, "", Diagnostic(f"{exc.reason}; expected manifests piped or redirected to it",
                                          file=STDIN_NAME)
    return _read_bytes(data, STDIN_NAME, "on standard input", flag, expected)


def _read_bytes(data: bytes | bytearray, name: str, where: str, flag: str,
                expected: str) -> tuple[str, str, Diagnostic | None]:
    """A file's or standard input's bytes as text, or why they are not (not text, or empty: a warning)."""
    text, problem = decode_text(data, name, flag, expected)
    # (isspace, not strip: the same Unicode whitespace, but strip copies the whole text when it ends with a
    # newline, 13 ms for 17 MB before anything runs on the second core; isspace stops at the first other character)
    if problem is None and (not text or text.isspace()):
        problem = Diagnostic(f"empty; no objects {where}", file=name, severity=Severity.WARNING)
    return name, text, problem


def decode_text(data: bytes | bytearray, file: str, flag: str = MANIFEST_FLAG,
                expected: str = MANIFEST_EXPECTED) -> tuple[str, Diagnostic | None]:
    """A manifest's bytes as text, the way kubectl reads them: UTF-8, or the UTF-16 or UTF-32 its byte order
    mark announces (what Windows editors and PowerShell's redirection write); bytes that are neither are said
    as a file that cannot be read (:func:`manifest_unreadable`)."""
    try:
        return decoded(data, byte_order_mark(data)[1]), None
    except UnicodeDecodeError as exc:
        return "", manifest_unreadable(file, exc, flag, expected)


# -- parsing documents ------------------------------------------------------------------------------


def _parse_documents(text: str, file: str, ending: str = SKIPPED) -> list[Any]:
    """The documents of a text; JSON through json.loads (fast), the rest through the C YAML loader.

    A document that does not parse is replaced by its Diagnostic, so messages keep the input order; a syntax
    error's message ends with ``ending`` (:data:`SKIPPED` or :data:`HELD_BACK`).
    """
    documents = json_documents(text, file, ending)
    if documents is not None:
        return documents
    try:
        return _load_yaml(text)
    except _yaml().YAMLError as exc:
        recovered = _json_stream_recovered(text, file, ending) if text.lstrip()[:1] in ("{", "[") else None
        if recovered is not None:
            return recovered
        if isinstance(exc, (DuplicateKeyError, BadValueError)):  # (no syntax error met before it)
            recorded = _read_recorded(text, file, 0, ending)  # (one reading, as fast as the first)
            if type(recorded[-1]) is _Judged:  # (a syntax error after it: document by document below)
                return recorded
        return _parse_chunks(text, file, ending)


def json_documents(text: str, file: str = "<memory>", ending: str = SKIPPED) -> list[Any] | None:
    """The documents of a JSON text: one value, or a stream of them one after another (``{...}{...}``, as
    kubectl reads it); None when the text is not JSON (maybe YAML flow style, whose parser also gives the
    better error position). A value nested deeper than Python's JSON reader follows (it recurses: about 1,000
    levels) becomes a Diagnostic, after the documents before it: the rest of that text is skipped, not the run.
    A document with NaN or Infinity (which Python's reader takes and Go's refuses) is a syntax error at the
    value, ending with ``ending``, as any other JSON syntax error is (the YAML reader, which would read them as
    strings, is not asked).
    """
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return [_reading_long_ints(lambda decoder: decoder.decode(text), _json_decoder())]
    except _NotJson:
        return _json_stream_recovered(text, file, ending)
    except ValueError as exc:
        if not str(exc).startswith("Extra data"):
            return None
    except RecursionError:
        pass  # (the stream reader below keeps the documents before the deep one and names where it is)
    decoder, documents, at = _json_decoder(), [], 0
    try:
        while at < len(text):
            value, at = _reading_long_ints(functools.partial(json.JSONDecoder.raw_decode, s=text, idx=at), decoder)
            documents.append(value)
            at = _STRIPPED.match(text, at).end()  # type: ignore[union-attr]  # whitespace between values
    except _NotJson:
        return _json_stream_recovered(text, file, ending)
    except ValueError:
        return None
    except RecursionError:
        documents.append(_json_too_deep(text, at, file, ending))
    return documents


class _NotJson(Exception):
    """NaN, Infinity or -Infinity met in a JSON text (raised by the reader's parse_constant)."""


def _not_json(name: str) -> NoReturn:
    raise _NotJson(name)


_JSON_CONSTANT = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(-?Infinity|NaN)')  # a string (skipped) or a constant


class _ConstantError(json.JSONDecodeError):
    """NaN or Infinity in a JSON value, at its place: a syntax error, as Go's reader has it."""


def _raw_decode(decoder: json.JSONDecoder, text: str, at: int) -> tuple[Any, int]:
    """``decoder.raw_decode``, with NaN or Infinity a :class:`_ConstantError`."""
    try:
        return _reading_long_ints(lambda reader: reader.raw_decode(text, at), decoder)
    except _NotJson as exc:
        where = next((m.start(1) for m in _JSON_CONSTANT.finditer(text, at) if m.group(1)), at)
        raise _ConstantError(f"invalid value {exc} (JSON has no NaN or Infinity; kubectl's reader refuses it)",
                             text, where) from None


def json_float(text: str) -> float | WrittenNumber:
    """A JSON number with a fraction or an exponent; one past a 64-bit float (``1e400``, which ``float`` makes
    inf), or whole past the integers it holds exactly (``1e30``), kept as written, for the field's message to name
    it so."""
    value = float(text)
    if not math.isfinite(value):
        return WrittenNumber(text)
    return named_if_inexact(value, text)


_Read = TypeVar("_Read")


def _json_decoder(parse_int: Callable[[str], int] | None = None) -> json.JSONDecoder:
    """The JSON reader of manifests: numbers past a float kept as written (:class:`WrittenNumber`), and Python's
    extra ``NaN`` and ``Infinity`` refused (no JSON: Go's reader refuses them)."""
    return json.JSONDecoder(parse_float=json_float, parse_constant=_not_json, parse_int=parse_int)


def manifest_json_decoder() -> json.JSONDecoder:
    """The JSON reader of manifests (see :func:`_json_decoder`), for a caller that reads a value in parts: what
    it raises on a text :func:`json_documents` would not take as one plain value is one of :data:`JSON_REFUSED`."""
    return _json_decoder()


JSON_REFUSED: tuple[type[Exception], ...] = (ValueError, RecursionError, _NotJson)
"""What :func:`manifest_json_decoder` raises where a one-shot reading takes another path: a syntax error, nesting
too deep, NaN or Infinity, an integer past Python's digit limit (read again, whole, by that path)."""


def _reading_long_ints(read: Callable[[json.JSONDecoder], _Read], decoder: json.JSONDecoder) -> _Read:
    """``read(decoder)``; when a value holds an integer past Python's int-digits limit (a library caller that keeps
    it; the CLI lifts it), read again with such integers read whole (:func:`long_decimal`), so that the field's
    check names them. Only then: a callback for every integer makes the reader about three times slower."""
    try:
        return read(decoder)
    except ValueError as exc:
        if type(exc) is not ValueError or "integer string conversion" not in str(exc):
            raise
    return read(_json_decoder(parse_int=_json_int))


def _json_int(text: str) -> int:
    return -long_decimal(text[1:]) if text[0] == "-" else long_decimal(text)


def long_decimal(digits: str) -> int:
    """A string of decimal digits as an int, however many: read in halves, each under Python's int-digits limit
    (which a library caller may keep; the CLI lifts it), so that a number no field takes is reported by the
    field's check, by its count of digits, rather than raising ValueError out of the loader. Karatsuba's cost,
    not the quadratic one the limit guards against."""
    if len(digits) <= sys.int_info.str_digits_check_threshold:  # (no limit applies to so few: it is at least this)
        return int(digits)
    half = len(digits) // 2
    return long_decimal(digits[:-half]) * 10 ** half + long_decimal(digits[-half:])


_JSON_VALUE_START = re.compile(r"^[{\[]", re.MULTILINE)  # a line that opens a value: where a stream resumes
_JSON_BLANKS = re.compile(r"[ \t\n\r]*")
_STRIPPED = re.compile(r"\s*")
"""What ``str.lstrip`` strips (the same Unicode whitespace), matched in place: stripping a copy of the rest of a
stream after every value made reading a stream of many documents quadratic (10,000 one-line documents: ~3.3 s)."""


def _json_stream_recovered(text: str, file: str, ending: str = SKIPPED) -> list[Any] | None:
    """A stream of JSON values neither JSON nor YAML reads whole (one value broken or cut off): each value that
    parses, and a Diagnostic for each broken one, which is skipped up to the next line that starts with ``{``
    or ``[`` (where the next value starts, as ``kubectl get -o json`` writes them). None when no value parses
    (not a JSON stream: the YAML reader's message then says what is wrong). Only on the error path."""
    decoder, documents, parsed = _json_decoder(), [], False
    at = _JSON_BLANKS.match(text).end()  # type: ignore[union-attr]  # (it matches anywhere)
    while at < len(text):
        try:
            value, at = _raw_decode(decoder, text, at)
        except json.JSONDecodeError as exc:
            parsed = parsed or isinstance(exc, _ConstantError)  # (JSON for sure, which YAML would misread)
            said = exc.msg.removesuffix(" at")  # ("Unterminated string starting at": the place follows here)
            documents.append(Diagnostic(f"syntax error: {said[:1].lower()}{said[1:]} at line {exc.lineno} "
                                        f"column {exc.colno}; {ending}", file=file,
                                        line=text.count("\n", 0, at) + 1))  # (named by its first line)
            resume = _JSON_VALUE_START.search(text, max(exc.pos, at + 1))
            if resume is None:
                break
            at = resume.start()
            continue
        except RecursionError:
            documents.append(_json_too_deep(text, at, file, ending))
            break
        documents.append(value)
        parsed = True
        at = _JSON_BLANKS.match(text, at).end()  # type: ignore[union-attr]
    return documents if parsed else None


_JSON_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')  # a string (skipped) or a bracket


def _json_too_deep(text: str, start: int, file: str, ending: str) -> Diagnostic:
    """The error for the JSON value at ``start`` that nests too deeply, at its deepest point (as libyaml's
    "exceeded maximum nesting depth" is for YAML), ending as a syntax error's does: a one-shot load skips this
    document and the rest of the file (the reader cannot find where the value ends), the watch holds the whole
    file back (:data:`HELD_BACK`), as it does a YAML text nested too deep. Only after the reader gave up: no cost
    on the common path."""
    depth = deepest = 0
    where = start
    for match in _JSON_NESTING.finditer(text, start):
        found = match.group()
        if found == "[" or found == "{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, match.start()
        elif found == "]" or found == "}":
            depth -= 1
            if depth <= 0:
                break
    line = text.count("\n", 0, where) + 1
    column = where - text.rfind("\n", 0, where)
    skipped = "this document and the rest of the file are skipped" if ending == SKIPPED else ending
    return Diagnostic(f"syntax error: exceeded maximum nesting depth ({deepest} levels of arrays and objects; "
                      f"the JSON reader follows fewer than {sys.getrecursionlimit()}) at column {column}; {skipped}",
                      file=file, line=line)


def _parse_chunks(text: str, file: str, ending: str = SKIPPED) -> list[Any]:
    """After a syntax error: read document by document so one broken document costs only itself, each in the
    recording reading (:func:`_read_recorded`), which names a key given twice or a bad value too and is as fast as
    the plain one: each is read once (loading each, then reading again one that raised, cost a third reading)."""
    from kubeproxy_sim.objects import yamlsplit  # YAML only, like _yaml()

    documents: list[Any] = []
    starts = [0] + [m.start() for m in yamlsplit.DOCUMENT_MARKER.finditer(text)]
    first_line = 0
    for previous, start, end in zip([0, *starts], starts, [*starts[1:], len(text)], strict=False):
        first_line += text.count("\n", previous, start)  # (counted on from the last chunk: once over the text)
        documents.extend(_read_recorded(text[start:end], file, first_line, ending))
    return documents


def _yaml() -> Any:
    """PyYAML, imported on first use: a JSON input (what a large cluster comes as) never pays for it."""
    import yaml

    return yaml


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NULL = "tag:yaml.org,2002:null"
_BINARY = "tag:yaml.org,2002:binary"
_NUMBER = "tag:kubeproxy-sim,2026:go-number"
"""The tag our resolvers give a plain scalar go-yaml v2 reads as a number (:data:`_GO_NUMBER`); its constructor
reads it as go-yaml does (:func:`go_number`). Not ``!!int``: an explicit ``!!int`` is checked as go-yaml checks a
tag, and a number past int64 written plain is a float or a string to go-yaml, where under ``!!int`` it is refused."""
_BASE64_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = frozenset(b"\r\n")


def go_base64_error(text: str) -> int | None:
    """Where Go's base64.StdEncoding refuses ``text`` (the byte offset its CorruptInputError says: "illegal base64
    data at input byte N"), or None: how encoding/json decodes a []byte field (a kubeconfig's ``-data``) and
    go-yaml a ``!!binary`` value, skipping CR and LF, taking "=" or "==" only to end the last quantum, then nothing
    but newlines (decodeQuantum, Go 1.22)."""
    data, at = text.encode(), 0
    while True:
        got = 0
        while got < 4:
            if at == len(data):
                return None if got == 0 else at - got
            byte = data[at]
            at += 1
            if byte in _NEWLINES:
                continue
            if byte in _BASE64_BYTES:
                got += 1
                continue
            if byte != ord("=") or got < 2:  # (a byte no base64 has, or padding too early)
                return at - 1
            if got == 2:  # ("==" is needed: the second may follow newlines)
                while at < len(data) and data[at] in _NEWLINES:
                    at += 1
                if at == len(data):
                    return at
                if data[at] != ord("="):
                    return at - 1
                at += 1
            while at < len(data) and data[at] in _NEWLINES:
                at += 1
            return at if at < len(data) else None


_GO_NUMBER = re.compile(r"""(?:(?=[-+0-9])[-+]?_*
        (?:0_*(?:[bB]_*(?:[01]_*)+|[oO]_*(?:[0-7]_*)+|[xX]_*(?:[0-9a-fA-F]_*)+)
          |(?:\._*(?:[0-9]_*)+|(?:[0-9]_*)+(?:\._*(?:[0-9]_*)*)?)(?:[eE]_*(?:[-+]_*)?(?:[0-9]_*)+)?)
      |0_*b_*[-+]_*(?:[01]_*)+
      |\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?)$""", re.X)
r"""A plain scalar go-yaml v2's resolve (resolve.go) reads as a number, and which PyYAML's YAML 1.1 resolvers are
replaced by: one starting with a sign or a digit whose text without underscores strconv.ParseInt or ParseUint
takes with base 0 (``0x1F``, ``0X1F``, ``0o17``, ``0O17``, ``0B101``, ``017``, ``-_1``), or that matches
``^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`` (``1e3``, ``080``, ``1.``), or ``0b`` and a signed binary
(``0b-101``, resolve's own fallback); or one starting with a dot that strconv.ParseFloat takes (``.5``,
``.5_0``: an underscore between digits). YAML 1.1's base-60 numbers (``1:30``, so an IPv6 address of digits and
colons) are none: go-yaml keeps them strings."""
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")  # (YAML 1.1's and go-yaml's alike)
_GO_BOOLS = {**dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
             **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False)}
"""go-yaml v2's booleans (resolve.go's resolveMapList): YAML 1.1's, which PyYAML reads, and ``y``, ``Y``, ``n`` and
``N`` besides (so ``name: n`` is false to kubectl, no string)."""
_UINT64 = 1 << 64
_NON_SPECIFIC = re.compile(r"(?:&\S+\s+)?!(?=\s|\Z)")
"""A node's properties that start with the non-specific tag ``!`` (an anchor before it or not), matched where its
node starts: go-yaml keeps such a scalar its text (resolve leaves a tag it does not know, ``!``, as it is), where
both parsers hand it to the resolver as a plain scalar (libyaml's ``plain_implicit`` is set for it too)."""
_GO_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_GO_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                           r"(?:([Tt])| ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]{1,9})?$)?")
_GO_ZONED_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]{1,9})?(?:Z|[-+][0-9]{2}:[0-9]{2})")
_BASES = {"b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16}


def go_number(text: str) -> int | float | str:
    """A plain scalar :data:`_GO_NUMBER` matches, as go-yaml v2's resolve reads it: an integer when
    strconv.ParseInt (an int64) or ParseUint (a uint64: unsigned, below 2**64) reads its text without underscores
    with base 0; else a float when it is a decimal float's text (an integer past both is one, ``+`` signed or
    not); else, past a 64-bit float's range (``1e400``) or a hexadecimal, octal or binary one past the integers'
    (``0x1_0000_0000_0000_0000``), the text itself, a string."""
    if text[0] == ".":
        return float(text)  # (ParseFloat of the text as written: no underscores there)
    plain = text.replace("_", "")
    if plain[:2] == "0b" and plain[2] in "+-":  # resolve's fallback: ParseInt(plain[2:], 2, 64), signed
        number = int(plain[2:], 2)
        return number if -INT64 <= number < INT64 else text
    digits = plain.lstrip("+-")
    if digits[1:2] in _BASES:  # (0x, 0o, 0b, in either case: a digit of the base follows)
        found = _ranged(int(digits[2:], _BASES[digits[1]]), plain)
        return text if found is None else found
    if digits.isdigit() and len(digits) <= 20:  # (more digits are past 2**64: a float, read below)
        octal = digits[0] == "0"  # (ParseInt's base 0: 017 is 15; 08 is no integer, and the float 8)
        if not octal or not digits.strip("01234567"):
            found = _ranged(int(digits, 8 if octal else 10), plain)
            if found is not None:
                return found
    value = float(plain)
    return value if math.isfinite(value) else text  # (ParseFloat's range error: go-yaml keeps the text)


def _ranged(magnitude: int, plain: str) -> int | None:
    """The integer ``plain`` (a sign, then ``magnitude``) when ParseInt (an int64) or ParseUint (unsigned, no sign
    written) holds it, else None."""
    number = -magnitude if plain[0] == "-" else magnitude
    if -INT64 <= number < INT64 or (number < _UINT64 and plain[0] not in "+-"):
        return number
    return None


def go_timestamp(text: str) -> bool:
    """Whether go-yaml v2's parseTimestamp reads the text: Go's time.Parse with one of its four layouts
    (``2006-1-2T15:4:5.999999999Z07:00``, the same with ``t``, ``2006-1-2 15:4:5.999999999``, ``2006-1-2``), a
    real date and time of day (``2001-02-30`` and ``25:00:00`` are none). What ``!!timestamp`` takes."""
    import datetime

    date = _GO_TIMESTAMP.match(text)
    if date is None:
        return False
    clock = date.groups()[4:] if date.group(5) else ("0", "0", "0")
    if date.group(4):  # (T or t: a time with a zone must follow)
        zoned = _GO_ZONED_TIME.fullmatch(text, date.end())
        if zoned is None:
            return False
        clock = zoned.groups()
    elif date.end() != len(text):
        return False
    try:
        year, month, day, hour, minute, second = map(int, (*date.groups()[:3], *clock))
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def go_scalar(text: str) -> object:
    """A scalar under an explicit ``!!int``, ``!!float`` or ``!!bool`` as go-yaml v2's resolve reads it before
    checking it against the tag: a boolean, null, a float (``.inf``, ``.nan``), a number (:func:`go_number`), or the
    text (YAML 1.1's ``1:30``, ``yEs``: go-yaml refuses either under a tag)."""
    if text in _GO_BOOLS:
        return _GO_BOOLS[text]
    if text in _GO_NULLS:
        return None
    if _SPECIAL_FLOAT.match(text):
        return float(text.replace(".", ""))  # (inf, -Inf, +INF, nan: Python's float reads them in any case)
    return go_number(text) if _GO_NUMBER.match(text) else text


@functools.cache
def go_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """PyYAML's implicit resolvers with its YAML 1.1 integers and floats replaced by go-yaml v2's numbers
    (:data:`_GO_NUMBER`, YAML's ``.inf`` and ``.nan`` kept), ``y``, ``Y``, ``n`` and ``N`` added to its booleans,
    and no timestamps (go-yaml hands a plain one on as its text, a string; so ``!!timestamp`` alone is checked):
    plain scalars resolved as go-yaml v2 resolves them, for every YAML this reads (manifests, and the config,
    kubeconfig, scenario and flows files, which Go's sigs.k8s.io/yaml or our own readers take)."""
    yaml = _yaml()
    resolvers = {first: [(tag, regexp) for tag, regexp in entries if tag not in (_INT, _FLOAT, _TIMESTAMP)]
                 for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    for first in "-+.0123456789":
        resolvers.setdefault(first, []).append((_NUMBER, _GO_NUMBER))
    for first in "-+.":
        resolvers[first].append((_FLOAT, _SPECIAL_FLOAT))
    for first in "yYnN":
        resolvers[first].append((_BOOL, re.compile(r"^[yYnN]$")))
    return resolvers


@functools.cache
def go_safe_dumper() -> Any:
    """PyYAML's safe dumper (libyaml's when there) quoting every string go-yaml v2 would read as something else
    (``n``, ``0o17``, ``1e3``): PyYAML's resolvers, then :func:`go_resolvers`' (a number as an integer), so that
    what is written reads back the same to kubectl and to :func:`manifest_loader`; a number or a boolean keeps its
    plain form (PyYAML's own resolver takes it first). A :class:`WrittenNumber` the readers keep (``.inf``,
    ``-.Inf``, ``.nan``) is written as go-yaml writes the value it reads there (``.inf``, ``-.inf``, ``.nan``):
    every value the readers give can be written back (a kubeconfig is, by watch)."""
    yaml = _yaml()
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    resolvers = {first: list(entries) for first, entries in base.yaml_implicit_resolvers.items()}
    for first, entries in go_resolvers().items():
        known = resolvers.setdefault(first, [])  # (the first match decides: a copy of an entry there is no-op)
        known.extend(entry for entry in ((_INT if tag == _NUMBER else tag, regexp) for tag, regexp in entries)
                     if entry not in known)
    representers = {**base.yaml_representers,
                    WrittenNumber: lambda self, number: self.represent_data(go_scalar(number.text))}
    return type("GoSafeDumper", (base,), {"yaml_implicit_resolvers": resolvers, "yaml_representers": representers})


@functools.cache
def manifest_loader() -> Any:
    """PyYAML's safe loader (libyaml's C one when there) reading plain scalars as kubectl's YAML library does.

    PyYAML follows YAML 1.1 to the letter; kubectl reads a manifest with go-yaml v2 (through sigs.k8s.io/yaml),
    whose resolve differs (:func:`go_resolvers`): ``1:30`` is no base-60 number (an IPv6 address of digits and
    colons stays a string), ``1e3`` and ``080`` are floats, ``0o17``, ``0X1F`` and ``0B101`` integers, ``y`` and
    ``n`` booleans (a key ``y`` is the JSON key "true", a ``name: n`` no string), an integer past uint64 a float or
    the text. Nor does it hand a timestamp on as one: go-yaml v2, decoding into an interface{} as sigs.k8s.io/yaml
    does, keeps ``2024-01-01`` the string it is written as (a label value of that shape is valid), and ``!!binary``
    the text it decodes to (:func:`scalar_constructors`). A manifest's float with a zero fraction past 2**53 is
    kept as written (:func:`objects.report.named_if_inexact`), for its field's message.
    """
    yaml = _yaml()
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    constructors = {**base.yaml_constructors, **scalar_constructors()}

    def named(read: Any) -> Any:
        def construct(self: Any, node: Any) -> Any:  # (a manifest's only: other files' floats stay floats)
            value = read(self, node)
            if type(value) is not float:
                return value
            written = node.value if node.value.lstrip("+-_")[1:2] not in _BASES else f"{value:.0f}"  # (!!float 0x..)
            return named_if_inexact(value, written)
        return construct

    constructors.update({tag: named(constructors[tag]) for tag in (_FLOAT, _NUMBER)})
    return type("ManifestLoader", (base,), {"yaml_implicit_resolvers": go_resolvers(),
                                            "yaml_constructors": constructors, "__init__": _knowing_tags(base)})


def _knowing_tags(base: Any) -> Callable[[Any, Any], None]:
    """The ``__init__`` of a loader using :func:`scalar_constructors`: the whole text is read first
    (:func:`whole_text`), for them to tell a scalar tagged ``!`` by its place in it (the loader's ``tagged``: the text,
    or "" when it has no ``!``); a stream read bit by bit left it unknown, and ``! y`` was read as plain ``y``."""

    def __init__(self: Any, stream: Any) -> None:
        stream = whole_text(stream)
        base.__init__(self, stream)
        self.tagged = stream if isinstance(stream, str) and "!" in stream else ""

    return __init__


def whole_text(stream: Any) -> Any:
    """What a YAML loader is given, as one text when it can be: a stream read whole, bytes decoded as PyYAML's
    Reader (and libyaml) decode them (UTF-16 by its byte order mark, else UTF-8), and a leading byte order mark
    left out (the scanners skip it, but libyaml's marks then count from after it, so a place in the text was one
    off: a ``!`` looked for there was missed, as the file readers, which decode UTF-8 with ``utf-8-sig``, never
    saw); bytes that do not decode are handed on as they are, for the loader to refuse them (its ReaderError)."""
    if hasattr(stream, "read"):
        stream = stream.read()
    if isinstance(stream, bytes):
        encoding = "utf-16-le" if stream.startswith(codecs.BOM_UTF16_LE) else \
            "utf-16-be" if stream.startswith(codecs.BOM_UTF16_BE) else "utf-8"
        try:
            stream = stream.decode(encoding)
        except UnicodeDecodeError:
            return stream
    return stream[1:] if isinstance(stream, str) and stream.startswith("\ufeff") else stream


_VALUE = "tag:yaml.org,2002:value"
_SCALARS = {_INT: ("an integer", ""), _FLOAT: ("a number", ""), _BOOL: ("a boolean", "; true/false, yes/no, "
                                                                        "on/off or y/n"),
            _NULL: ("null", "; ~, null or nothing"),
            _TIMESTAMP: ("a timestamp", "; 2001-12-14, 2001-12-14T21:59:43.1Z or 2001-12-14 21:59:43.1")}
"""The tags go-yaml checks a scalar against (resolve: "cannot decode !!str `x` as a !!int"), and what each
expects."""


@functools.cache
def scalar_constructors() -> dict[str, Any]:
    """The constructors both YAML readers (:func:`manifest_loader`, :func:`safe_load`) put over PyYAML's safe
    ones, so that a manifest and a config file read a scalar alike, as go-yaml v2 does.

    A plain number is read by :func:`go_number`. A scalar tagged ``!!int``, ``!!float`` or ``!!bool`` is read as
    go-yaml's resolve reads it, then checked against the tag as go-yaml checks it (an int64 or a uint64 for
    ``!!int``, so ``!!int 18446744073709551616`` is refused; an integer of an int64, or a float, for ``!!float``;
    one of its booleans for ``!!bool``, ``!!bool y`` too); one that fails is a ConstructorError at the value's
    mark, reported where a syntax error is (PyYAML's own raised ValueError, KeyError or IndexError out of the
    loader, a crash, and took ``!!int 1:30`` as 90); ``!!null`` takes only go-yaml's nulls and ``!!timestamp``
    only what Go reads as one (:func:`go_timestamp`), as go-yaml checks them too (``!!null y``: "cannot decode
    !!bool `y` as a !!null"). A timestamp stays the text it is written as and ``!!binary`` the text it decodes to
    (go-yaml, decoding into an interface{}, hands neither on as a date or bytes); a lone ``=`` (YAML 1.1's value
    key) and a ``<<`` that is no mapping's key (``a: <<``, ``[<<]``), which PyYAML had no constructor for, are the
    strings they are in go-yaml. A scalar tagged ``!`` is its text (``! y``, ``! 0o17``: go-yaml's strings), known
    by the loader's ``tagged`` text (:func:`_knowing_tags`; "" when the text has no ``!``)."""
    yaml = _yaml()

    def as_written(self: Any, node: Any) -> bool:
        """Whether a scalar resolved as a plain one is tagged ``!`` (:data:`_NON_SPECIFIC`): then go-yaml's string.
        Asked only where the loader's ``tagged`` text is not "" (``self.tagged and as_written(...)``), so a text
        with no ``!`` costs a look at one attribute per resolved scalar."""
        return _NON_SPECIFIC.match(self.tagged, node.start_mark.index) is not None

    def refused(tag: str, node: Any) -> Exception:
        expected, forms = _SCALARS[tag]
        return yaml.constructor.ConstructorError(
            None, None, f"{node.value[:40]!r} is not {expected} (tagged !!{tag.rsplit(':', 1)[1]}{forms})",
            node.start_mark)

    def construct_int(self: Any, node: Any) -> int:
        value = go_scalar(self.construct_scalar(node))  # (a mapping or a list tagged so: "expected a scalar")
        if type(value) is not int:
            raise refused(_INT, node)
        return value

    def construct_float(self: Any, node: Any) -> float | WrittenNumber | str:
        if self.tagged and as_written(self, node):  # (``! .inf``)
            return node.value
        value = go_scalar(self.construct_scalar(node))
        if type(value) is int and -INT64 <= value < INT64:  # (a uint64 go-yaml does not make a float)
            value = float(value)
        if type(value) is not float:
            raise refused(_FLOAT, node)
        return value if math.isfinite(value) else WrittenNumber(node.value)  # (its message names it so)

    def construct_bool(self: Any, node: Any) -> bool | str:
        if self.tagged and as_written(self, node):
            return node.value
        value = _GO_BOOLS.get(self.construct_scalar(node))
        if value is None:
            raise refused(_BOOL, node)
        return value

    def construct_null(self: Any, node: Any) -> str | None:
        if self.tagged and as_written(self, node):
            return node.value
        if self.construct_scalar(node) not in _GO_NULLS:  # (``!!null y``: go-yaml's "cannot decode !!bool")
            raise refused(_NULL, node)
        return None

    def construct_timestamp(self: Any, node: Any) -> str:
        text: str = self.construct_scalar(node)  # (only a tagged one: go_resolvers resolves none)
        if not go_timestamp(text):
            raise refused(_TIMESTAMP, node)
        return text

    def construct_number(self: Any, node: Any) -> int | float | str:
        if self.tagged and as_written(self, node):
            return node.value
        return go_number(self.construct_scalar(node))

    def construct_binary(self: Any, node: Any) -> str:
        import base64

        text = self.construct_scalar(node)
        offset = go_base64_error(text)  # (Go's judge: PyYAML's reader skips what Go refuses, Python takes "d2Vi=")
        if offset is not None:
            at = f" at column {node.start_mark.column + 1}" if getattr(self, "says_column", False) else ""
            problem = f"!!binary value{at} contains invalid base64 data (illegal base64 data at input byte {offset})"
            if getattr(self, "bad_values", None) is None:  # (a loader not strict_loader's has none)
                raise _bad_value_error()(None, None, problem, node.start_mark) from None
            self.bad_values.append((node, problem, None))  # (the error path's second reading: see strict_loader)
            return ""
        data = base64.b64decode(text.replace("\r", "").replace("\n", ""))  # (Go's judge took it: Python's takes it)
        return data.decode("utf-8", "replace")  # (JSON, which kubectl turns it into, is text)

    def construct_text(self: Any, node: Any) -> Any:
        return self.construct_scalar(node)

    return {_INT: construct_int, _FLOAT: construct_float, _BOOL: construct_bool, _NUMBER: construct_number,
            _BINARY: construct_binary, _TIMESTAMP: construct_timestamp, _NULL: construct_null,
            _VALUE: construct_text, _MERGE: construct_text}


class DuplicateKeyError(Exception):
    """A mapping with the same key twice, or two keys that make one JSON key (raised by :func:`strict_loader`'s
    loader, for the text to be read again to name them; it is a ``yaml.YAMLError`` too, as the class the loader
    raises derives from both)."""


class BadValueError(Exception):
    """A value go-yaml refuses that PyYAML would build (a ``!!binary`` that is no base64), or a key sigs.k8s.io/yaml
    makes no JSON key of: a ``yaml.YAMLError`` too, as :class:`DuplicateKeyError` is. ``field``: the field path to
    it, where its reader knows it (:func:`safe_load`'s), for :func:`yaml_syntax_error`; ``column_said``: its
    problem names the column after what it is about (:func:`safe_load`'s loader), which yaml_syntax_error then
    does not add at the end."""

    field: str | None = None
    column_said: bool = False


@functools.cache
def _duplicate_key_error() -> type[DuplicateKeyError]:
    return type("YAMLDuplicateKeyError", (DuplicateKeyError, _yaml().constructor.ConstructorError), {})


@functools.cache
def _bad_value_error() -> type[BadValueError]:
    return type("YAMLBadValueError", (BadValueError, _yaml().constructor.ConstructorError), {})


@functools.cache
def strict_loader(record: bool = False, base: Any = None) -> Any:
    """:func:`manifest_loader` (or ``base``) raising :class:`DuplicateKeyError` for a mapping that has a key twice
    (PyYAML keeps the last silently), for its reader to find and name them (see :func:`_read_recorded`); a
    mapping also has the keys sigs.k8s.io/yaml's JSON has (:func:`objects.jsonkey.json_key`: ``1`` and ``true``
    become ``"1"`` and ``"true"``), and two keys go-yaml keeps apart that become one JSON key raise too: kubectl
    reads a manifest so, and kube-proxy its --config and client-go a kubeconfig (their codecs' YAMLToJSON), so a
    config file's ``y:`` is the field "true", as in Go, whatever file it is in.

    The check costs a length comparison per mapping (the mapping built has fewer keys than the node has pairs
    only when a key came twice, or a merge key (``<<``) brought one the mapping also has, which is allowed), and
    for a manifest a look at its keys' types. ``record``: keep going, the last one wins, and note each duplicate
    in the loader's ``duplicates`` list as (key node, key, first key node), and each pair of keys made one JSON
    key in its ``collisions`` list as (key node, JSON key, first key node) (the error path's second reading); a
    ``bad_values`` list set on the loader notes each value it refuses (:class:`BadValueError`) there too, read
    as "", as (node, problem, None), and each key kubectl makes no JSON key of (null, a uint64:
    :func:`objects.jsonkey.json_key`), left out, as (key node, problem, ""); without the list such a key raises
    BadValueError. ``base``'s ``flatten_mapping`` is to merge as go-yaml does (:func:`merged_as_go_yaml`).
    """
    yaml = _yaml()
    base = manifest_loader() if base is None else base
    error = _duplicate_key_error()
    mapping_node, flatten = yaml.MappingNode, merged_as_go_yaml
    construct = yaml.constructor.BaseConstructor.construct_mapping

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        # SafeConstructor.construct_mapping's two lines, then the check (no extra call per mapping)
        pairs = node.value  # its own pairs: flatten_mapping deletes the merge keys from this list in place
        if isinstance(node, mapping_node):
            flatten(self, node)
        mapping: dict[Any, Any] = construct(self, node, deep)
        if len(mapping) != len(node.value):
            seen: dict[object, Any] = {}
            for key_node, _ in pairs:
                key = self.construct_object(key_node)  # (built above: this is the cached object)
                first = seen.setdefault(go_key(key), key_node)
                if first is key_node or json_key(key) is None:
                    continue  # (a key with no JSON key refuses the object, once: see keyed_as_json)
                if not record:
                    raise error("while constructing a mapping", node.start_mark,
                                f'mapping key "{key}" already defined at line {first.start_mark.line + 1}',
                                key_node.start_mark)
                self.duplicates.append((key_node, key, first))
        if not all(map(isinstance, mapping, _STRINGS)):
            return keyed_as_json(self, node, pairs)
        return mapping

    def keyed_as_json(self: Any, node: Any, pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        # built again from the pairs: Python's dict took 1, 1.0 and true for one key, where go-yaml keeps three
        own = {id(key_node) for key_node, _ in pairs}
        mapping: dict[Any, Any] = {}
        earlier: dict[str, dict[object, Any]] = {}  # JSON key: each go-yaml key making it: its key node
        names: dict[object, str] = {}  # go-yaml key: the JSON key it makes, from its last writing
        refused = False
        for key_node, value_node in node.value:
            key = self.construct_object(key_node)
            name = json_key(key)
            if name is None:
                problem = _no_json_key(key_node, key, self.json_reader, self.says_column)
                if self.bad_values is None:
                    raise _bad_value_error()(None, None, problem, key_node.start_mark)
                if not refused:  # (once: the conversion fails at the first such key)
                    self.bad_values.append((key_node, problem, ""))
                refused = True
                continue
            keys, same = earlier.setdefault(name, {}), go_key(key)
            repeated = keys.get(same)
            if repeated is not None and self.construct_object(repeated) != key and id(key_node) in own and \
                    id(repeated) in own:  # (.inf, then .Inf: one Go key, which Python's dict kept apart)
                if not record:
                    raise error("while constructing a mapping", node.start_mark,
                                f'mapping key "{name}" already defined at line {repeated.start_mark.line + 1}',
                                key_node.start_mark)
                self.duplicates.append((key_node, key, repeated))
            if keys and same not in keys:  # (own or merged, from anywhere: go-yaml sets them all)
                first = next(iter(keys.values()))
                if not record:
                    raise error("while constructing a mapping", node.start_mark,
                                f'mapping key "{name}" is another key at line {first.start_mark.line + 1} too',
                                key_node.start_mark)
                if not any(found is key_node and other is first for found, _, other in self.collisions):
                    self.collisions.append((key_node, name, first))  # (once: a merged mapping found it too)
            keys.setdefault(same, key_node)
            if names.setdefault(same, name) != name:  # -0.0, then 0.0: one Go map key, named by the later
                mapping.pop(names[same], None)  # (Go's map assignment stores a float key anew)
                names[same] = name
            mapping[name] = self.construct_object(value_node)
        return mapping

    def __init__(self: Any, stream: Any) -> None:
        stream = whole_text(stream)
        base.__init__(self, stream)  # (sets ``tagged``: see _knowing_tags)
        # the text whose documents may hold an alias (None: any may), or "" when none can (no anchor, no alias)
        self.anchored = (stream if may_alias(stream) else "") if isinstance(stream, str) else None

    def construct_document(self: Any, node: Any) -> Any:
        # anchors are the document's own (an alias refers to an anchor before it in its document), so only a
        # document with one in its own text is walked: one anchored document does not slow down the others
        text = self.anchored
        if text is None or (text and may_alias(text[node.start_mark.index:node.end_mark.index])):
            try:
                check_aliases(node, _MERGE)
            except AliasingError as exc:
                raise _aliasing_error()(exc.message, exc.line, exc.field, exc.named) from None
        return base.construct_document(self, node)

    return type("Strict" + base.__name__, (base,), {"__init__": __init__, "construct_mapping": construct_mapping,
                                                     "construct_document": construct_document, "duplicates": (),
                                                     "collisions": (), "bad_values": None,
                                                     "json_reader": getattr(base, "json_reader", MANIFEST_READER),
                                                     "says_column": getattr(base, "says_column", False)})


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


def merged_as_go_yaml(loader: Any, node: Any) -> None:
    """A mapping node's pairs made the ones go-yaml v2 decodes, in its order (:func:`_go_yaml_pairs`), and its merge
    keys taken out of its own list, in place, as PyYAML's flatten_mapping does (the manifest reader's
    flatten_mapping)."""
    pairs = node.value
    if any(key_node.tag == _MERGE for key_node, _ in pairs):
        node.value = _go_yaml_pairs(node)
        pairs[:] = [pair for pair in pairs if pair[0].tag != _MERGE]  # (retagged by _go_yaml_pairs)


def _retag_merge_keys(node: Any) -> None:
    """A mapping node's keys tagged as merge keys left so only when go-yaml's isMerge has them so: tagged so (``<<``
    plain, or ``!!merge``) and the text ``<<``; a key tagged ``!!merge`` with other text is made the string key
    go-yaml decodes it as (``!!merge foo``). Done once per node, so a key's tag alone then answers the question."""
    for key_node, _ in node.value:
        if key_node.tag == _MERGE and key_node.value != "<<":
            key_node.tag = _STR


def _go_yaml_pairs(node: Any) -> list[tuple[Any, Any]]:
    """The pairs go-yaml v2 sets, in order (decode.go, mapping and merge): a merge key's mapping's pairs where the
    merge key stands, a list of mappings' last first (the earlier ones win); so a dict built from them, the last of
    a key winning, holds go-yaml's values: a key before a merge key is overridden by the merged mapping's, a key
    after it overrides it, and a key the merged mapping has twice keeps its last value. PyYAML puts the merged
    pairs first wherever the merge key stands, and its 6.0.4 leaves out a merged pair whose key's text is the same
    object as an earlier one's (a one-character key, which Python shares), keeping the first. The merged nodes are
    left as they are (each flattens itself when built). A list merged through an alias (``<<: *list``) is refused,
    at the merge key, as go-yaml refuses it ("map merge requires map or sequence of maps as the value": it takes
    an alias of a mapping only); the composer shares the anchored node with its aliases, so an alias is a node
    that starts before its merge key (an anchor comes before its aliases)."""
    _retag_merge_keys(node)
    flat = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            flat.append((key_node, value_node))
            continue
        merged = [value_node] if value_node.id == "mapping" else \
            list(reversed(value_node.value)) if value_node.id == "sequence" else None
        if merged is None or any(sub.id != "mapping" for sub in merged):
            raise _yaml().constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "expected a mapping or list of mappings for "
                f"merging, but found {value_node.id}", value_node.start_mark)
        if value_node.id == "sequence" and value_node.start_mark.index < key_node.start_mark.index:
            raise _yaml().constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "expected a mapping or list of mappings for "
                "merging, but found an alias of a list (go-yaml merges a list only written in place)",
                key_node.start_mark)
        for sub in merged:
            flat.extend(_go_yaml_pairs(sub))
    return flat


_STRINGS = itertools.repeat(str)  # (``all(map(isinstance, keys, _STRINGS))``: a C loop over the keys)


class KeyCollision(NamedTuple):
    """Two keys of one mapping that go-yaml keeps apart and sigs.k8s.io/yaml makes one JSON key (``1`` and ``"1"``),
    as :func:`safe_load` notes them: where each is, and each as written."""

    mark: Any
    name: str
    written: str
    first_mark: Any
    first_written: str


def safe_load(text: str, *, single: bool = False,
              collisions: list[KeyCollision] | None = None) -> tuple[Any, list[tuple[Any, Any, Any]]]:
    """The first YAML document as sigs.k8s.io/yaml reads it (:func:`_config_loader`; a key given twice: the last
    one wins; keys made JSON keys, ``y`` the string "true", ``1`` "1", a null key refused), and each key given
    twice as (mark, JSON key, first mark); ``collisions``: a list to note in each pair of keys go-yaml keeps apart
    that become one JSON key (``1`` and ``"1"``: which value Go keeps is unspecified, the last is used here). What
    follows it is not read, as go-yaml's
    Unmarshal (sigs.k8s.io/yaml's, which kube-proxy's --config codec and clientcmd's kubeconfig reading use) reads
    none of it, however broken; ``single``: another document is a ``yaml.YAMLError`` ("expected a single document
    in the stream"), for our own files (a scenario.yaml, a flows file), where it is a mistake to be said, and
    which no Kubernetes program reads: a key they make no JSON key of is said so (:data:`OWN_READER`). A
    document kubectl's YAML reader refuses over its
    aliases (objects.aliases) raises a ``yaml.YAMLError`` naming its line and field instead of being built. The
    one reader of the YAML files that are no manifests (a scenario.yaml, a KubeProxyConfiguration, a kubeconfig, a
    flows file): a billion laughs in any of them would hang whatever walks it. A document nested deeper than
    PyYAML's Python composer recurses raises a ``yaml.YAMLError`` too (it was a RecursionError each reader had to
    catch, or did not)."""
    yaml = _yaml()
    loader = strict_loader(record=True, base=_config_loader())(text)
    try:
        loader.duplicates, loader.collisions, loader.bad_values = [], [], []
        if single:
            loader.json_reader = OWN_READER
        node = loader.get_single_node() if single else loader.get_node() if loader.check_node() else None
        data = None if node is None else loader.construct_document(node)
        if loader.bad_values:
            raise _refusal(node, loader.bad_values)
        if collisions is not None:
            collisions.extend(KeyCollision(key_node.start_mark, name, _as_written(key_node), first.start_mark,
                                           _as_written(first)) for key_node, name, first in loader.collisions)
        return data, [(key_node.start_mark, json_key(key), first.start_mark)
                      for key_node, key, first in loader.duplicates]
    except RecursionError:
        raise yaml.YAMLError(f"exceeded maximum nesting depth (the YAML reader follows fewer than "
                             f"{sys.getrecursionlimit()} levels)") from None
    finally:
        loader.dispose()


def _refusal(root: Any, bad_values: list[tuple[Any, str, str | None]]) -> BadValueError:
    """The error of the value (or key) go-yaml or sigs.k8s.io/yaml fails on first in a config file's document: a
    bad ``!!binary`` (go-yaml's decoding, before the conversion to JSON), else the first key with no JSON key;
    named by its field path (a key's: its mapping's)."""
    node, problem, key = min(bad_values, key=lambda found: (found[2] is not None, found[0].start_mark.index))
    error = _bad_value_error()(None, None, problem, node.start_mark)
    error.field = _field(root, _Finding(node, lambda _: problem, key))
    error.column_said = True  # (_config_loader's problems name it: says_column)
    return error


@functools.cache
def _config_loader() -> Any:
    """PyYAML's Python safe loader reading as go-yaml v2 does: what :func:`safe_load` reads with. A
    KubeProxyConfiguration and a kubeconfig are read in Go by sigs.k8s.io/yaml (kube-proxy's config codec,
    client-go's clientcmd), so their plain scalars resolve as a manifest's do (:func:`go_resolvers`,
    :func:`scalar_constructors`: ``y`` a boolean, ``1:30`` a string, ``0o17`` 15, a timestamp or ``!!binary`` the
    text), a merge key applies where it stands (:func:`merged_as_go_yaml`) and a key is the JSON key
    sigs.k8s.io/yaml makes of it (:func:`strict_loader`); our own scenario.yaml and flows files are read the same
    way, so one rule holds for every YAML file."""
    base = _yaml().SafeLoader
    return type("ConfigLoader", (base,), {"yaml_implicit_resolvers": go_resolvers(),
                                          "yaml_constructors": {**base.yaml_constructors, **scalar_constructors()},
                                          "flatten_mapping": merged_as_go_yaml, "json_reader": CONFIG_READER,
                                          "says_column": True,
                                          "__init__": _knowing_tags(base)})


@functools.cache
def _aliasing_error() -> type[AliasingError]:
    """The error :func:`strict_loader`'s loader raises for a document kubectl refuses over its aliases (see
    objects.aliases): a ``yaml.YAMLError`` too, so every reader of YAML reports it where it reports a syntax
    error."""
    return type("YAMLAliasingError", (AliasingError, _yaml().YAMLError), {})


def _read_recorded(text: str, file: str, first_line: int, ending: str = SKIPPED) -> list[Any]:
    """The documents of a text with a key given twice (or two keys kubectl's JSON makes one) or a ``!!binary`` that
    is no base64, read again (the error path only): before each document, a warning for each key given twice in
    it, the object used with the last value, as kubectl's lenient YAML reading keeps it; an object with a bad
    ``!!binary`` replaced by an error naming it and the field, as kubectl refuses it; a List keeps its other
    items."""
    yaml = _yaml()
    loader = strict_loader(record=True)(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            loader.duplicates, loader.collisions, loader.bad_values = [], [], []
            try:
                document = loader.construct_document(node)
            except AliasingError as exc:  # the text parses (kubectl's reader refuses it): this document alone is
                # lost, in the watch too: a document that parsed (_Judged) holds no file back (LoadResult.unparsed)
                documents.append(_Judged((_yaml_problem(exc, file, first_line, text, SKIPPED),)))
                continue
            found = [*(_duplicate(repeat, first_line) for repeat in loader.duplicates),
                     *(_collision(repeat, first_line) for repeat in loader.collisions),
                     *(_bad_value(node, problem, key) for node, problem, key in loader.bad_values)]
            shared = bool(found) and may_alias(text[node.start_mark.index:node.end_mark.index])
            documents.append(_Judged(tuple(_judged(document, node, found, file, first_line, shared))))
    except yaml.YAMLError as exc:
        documents.append(_yaml_problem(exc, file, first_line, text, ending))
    finally:
        loader.dispose()
    return documents


@value_class
class _Judged:
    """One document of :func:`_read_recorded`: its messages, then what is used of it (:func:`_judged`), numbered as
    the one document it is (``document 3`` in a later message stays the third)."""

    entries: tuple[Any, ...]


@value_class
class _Finding:
    """Something in the object that holds ``node`` (a value; with ``key``, a mapping's key node, the field named being
    the mapping's and then ``key``, or the mapping's alone for a key with no name to give, ``""``): an error when
    kubectl refuses the object for it (``refuses``: the object is skipped), else a warning; its message, given what
    holds it ("object" or "document"). The node, not only its place in the text, so that every object reaching it
    through an alias (or a merge key) is named, at the field it reaches it by: the composer shares one node between
    an anchor and its aliases (and a merge copies the merged mapping's pairs), while go-yaml decodes an alias again
    wherever it is used (a bad ``!!binary`` fails again, a key given twice loses its first value again)."""

    node: Any
    message: Callable[[str], str]
    key: str | None = None
    refuses: bool = False

    @property
    def mark(self) -> Any:
        return self.node.start_mark


def _duplicate(found: tuple[Any, Any, Any], first_line: int) -> _Finding:
    key_node, key, first = found
    name, line = json_key(key), first_line + first.start_mark.line + 1
    return _Finding(key_node, lambda _: f'mapping key "{name}" already defined at line {line}; kubectl\'s YAML '
                                        "reading keeps the last, and so does this", key=name)


def _collision(found: tuple[Any, str, Any], first_line: int) -> _Finding:
    key_node, name, first = found
    line = first_line + first.start_mark.line + 1
    return _Finding(key_node, lambda _: f"mapping key {_as_written(key_node)} and {_as_written(first)} at line "
                                        f'{line} are two keys to go-yaml but one JSON key, "{name}"; which value '
                                        "kubectl keeps is unspecified (Go's map order), the last is used here",
                    key=name)


def _as_written(node: Any) -> str:
    """A scalar key as the manifest writes it: ``1``, ``"1"`` or ``'1'``."""
    quote_mark = node.style if node.style in ("'", '"') else ""
    return f"{quote_mark}{node.value}{quote_mark}"


def _bad_value(node: Any, problem: str, key: str | None = None) -> _Finding:
    return _Finding(node, lambda what: f"{problem}; kubectl refuses the {what}, so it is skipped", key=key,
                    refuses=True)


MANIFEST_READER = "kubectl's YAML reading"
"""Whose reading of YAML a manifest's message names: sigs.k8s.io/yaml's, which kubectl decodes it with."""
CONFIG_READER = "sigs.k8s.io/yaml (kube-proxy's and client-go's YAML reading)"
"""Whose a config file's message names (:func:`safe_load`): kube-proxy's --config codec and client-go's kubeconfig
codec convert YAML to JSON with sigs.k8s.io/yaml."""
OWN_READER = "sigs.k8s.io/yaml (kubectl's YAML reading, as this file is read)"
"""Whose our own YAML files' messages name (a scenario.yaml, a flows file: :func:`safe_load`'s ``single``): no
Kubernetes program reads them; they are read as kubectl reads a manifest, so that one rule holds for every YAML
file."""


def _no_json_key(key_node: Any, key: object, reader: str = MANIFEST_READER, column: bool = False) -> str:
    """Why ``reader`` makes no JSON key of a mapping key (sigs.k8s.io/yaml's convertToJSONableObject: "unsupported
    map key of type ..."), naming it as written; ``column``: and where it starts on its line (a config file's
    one-line error: see :func:`safe_load`)."""
    what = "null" if key is None else "an integer go-yaml holds as a uint64 (past int64)"
    written = _as_written(key_node)
    at = f" at column {key_node.start_mark.column + 1}" if column else ""
    return (f"mapping key {written}{at} is {what}" if written else f"an empty mapping key{at} is {what}") + \
        f", which {reader} makes no JSON key of (\"unsupported map key\")"


def _judged(document: Any, node: Any, found: list[_Finding], file: str, first_line: int,
            shared: bool = True) -> list[Any]:
    """The messages for what one document holds, then what is used of it: all of it, nothing (kubectl refuses it),
    or a List without the items kubectl refuses; ``shared``: whether its items may share nodes (an anchor and its
    aliases): when not, a finding is not looked for in the other items (a walk of the whole List per finding)."""
    if not found:
        return [document]
    item_nodes: list[Any] = []
    items: list[Any] = []  # a List's items, each judged on its own (with item_nodes, their nodes)
    item_kind = None
    kind = document.get("kind") if type(document) is dict else None
    listed = document.get("items") if type(document) is dict else None
    if type(kind) is str and kind.endswith("List") and type(listed) is list:
        nodes: list[Any] = next((value.value for key, value in node.value
                                 if key.id == "scalar" and key.value == "items" and value.id == "sequence"), [])
        if len(nodes) == len(listed):
            item_nodes, items, item_kind = nodes, listed, kind[: -len("List")] or None
    by_item: dict[int, list[_Finding]] = {}
    whole: list[_Finding] = []
    for finding in sorted(found, key=lambda finding: finding.mark.index):  # (found outer mappings first)
        at = finding.mark.index
        index = next((i for i, item in enumerate(item_nodes) if item.start_mark.index <= at < item.end_mark.index),
                     None)
        (whole if index is None else by_item.setdefault(index, [])).append(finding)
        if index is not None and shared:
            for other, item in enumerate(item_nodes):
                if other != index and _path_to(item, finding) is not None:  # (reached through an alias)
                    by_item.setdefault(other, []).append(finding)
    out: list[Any] = _messages(document, node, None, whole, file, first_line)
    if _refused(whole):  # (only the List's: every item is lost with it)
        return out
    if not item_nodes:
        return [*out, document]
    kept = []
    for i, item in enumerate(items):
        mine = by_item.get(i, [])
        out.extend(_messages(item, item_nodes[i], item_kind, mine, file, first_line))
        if not _refused(mine):
            kept.append(item)
    out.append(document if len(kept) == len(items) else {**document, "items": kept})
    return out


def _refused(found: list[_Finding]) -> bool:
    return any(finding.refuses for finding in found)


def _messages(document: Any, node: Any, default_kind: str | None, found: list[_Finding], file: str,
              first_line: int) -> list[Diagnostic]:
    kind, display = _naming(document, default_kind)
    what = "object" if kind else "document"
    return [Diagnostic(finding.message(what), file=file, line=first_line + finding.mark.line + 1, kind=kind,
                       object=display, field=_field(node, finding),
                       severity=Severity.ERROR if finding.refuses else Severity.WARNING)
            for finding in found]


def _field(root: Any, found: _Finding) -> str | None:
    """The field a finding names: the path to its node, and for a key, on to the key (one with no name: the
    mapping holding it)."""
    path = _path_to(root, found)
    if path is None or not found.key:
        return path or None
    return f"{path}.{found.key}" if path else found.key


def _path_to(root: Any, found: _Finding) -> str | None:
    """The field path from ``root`` to the node found (the same object: an alias reaches its anchor's node), or
    for a key to the first mapping that has it among its keys (a merge key's mapping holds the merged pairs); ""
    for the root itself, None when it is not there. In document order, so the anchor's place is found before an
    alias's; each node walked once, however many aliases share it."""
    target = found.node
    holding = found.key is not None
    seen: set[int] = set()
    pending: list[tuple[Any, str]] = [(root, "")]
    while pending:
        node, path = pending.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.id == "mapping":
            if holding and any(key is target for key, _ in node.value):
                return path
            pending.extend((value, f"{path}.{key.value}" if path else str(key.value))
                           for key, value in reversed(node.value) if key.id == "scalar")
        elif node.id == "sequence":
            pending.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(node.value))))
    return None


def _naming(document: Any, default_kind: str | None = None) -> tuple[str | None, str | None]:
    """The kind and ``namespace/name`` a refused document's message names it by (None where it has none)."""
    kind = document.get("kind", default_kind) if type(document) is dict else None
    if type(kind) is not str or not kind:
        return None, None
    entry = _DECODERS.get(kind)
    _, name, display = object_name(document, namespaced=entry[2] if entry else True)
    return kind, display if name or entry else None  # (a List has no name to give)


def _load_yaml(text: str) -> list[Any]:
    """Every document of a YAML text, through libyaml's C loader when PyYAML has it; a large text on two cores
    (:mod:`kubeproxy_sim.objects.yamlsplit`), with the same result."""
    from kubeproxy_sim.objects import yamlsplit  # YAML only, like _yaml(): a JSON input never pays for it

    yaml = _yaml()
    loader = strict_loader()
    found: list[Exception] = []

    def load(part: str) -> list[Any]:
        try:
            return list(yaml.load_all(part, Loader=loader))
        except (DuplicateKeyError, BadValueError) as exc:
            found.append(exc)
            raise

    if len(text) >= yamlsplit.MIN_PARALLEL_CHARS:
        documents = yamlsplit.load_in_two(text, load)
        if documents is not None:
            return documents
        if found:  # (the first part has one: its caller reads every document again to name it, so the whole text
            raise found[0]  # need not be loaded to find it again)
    return load(text)


def yaml_syntax_error(exc: Any, file: str, first_line: int = 0, text: str = "") -> Diagnostic:
    """A YAML syntax error in one line, as 'file:line: syntax error: ... at column N' (PyYAML's own message
    spans several lines and names "<unicode string>"). ``text``, the text read, lets a tab be named where the
    problem is a character that cannot start a token: libyaml's message does not say which (kubectl's, from
    go-yaml, says 'found character that cannot start any token' too), and a tab indenting a line is the usual
    one, invisible in an editor."""
    if isinstance(exc, AliasingError):  # (not a syntax error: kubectl's reader refuses what parses)
        kind, display = _naming(exc.named)
        return Diagnostic(exc.message, file=file, line=first_line + exc.line, kind=kind, object=display,
                          field=exc.field)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    said = "" if isinstance(exc, BadValueError) else "syntax error: "  # (a value the YAML reader refuses parses)
    message = f"{said}{problem}" + (f" ({context})" if context else "")
    field = exc.field if isinstance(exc, BadValueError) else None
    if mark is not None and not getattr(exc, "column_said", False):
        message += f" at column {mark.column + 1}"
    if mark is not None and "cannot start any token" in problem and _char_at(exc, mark, text) == "\t":
        message += " (a tab? YAML indents with spaces)"
    return Diagnostic(message, file=file, line=line, field=field)


def _char_at(exc: Any, mark: Any, text: str) -> str:
    """The character a YAML error's mark points at: from the pure-Python reader's buffer, else from the text
    read (libyaml's mark has no buffer; its index counts characters)."""
    buffer = getattr(mark, "buffer", None) or text
    index = getattr(mark, "pointer", None) if getattr(mark, "buffer", None) else getattr(mark, "index", None)
    return buffer[index] if isinstance(index, int) and 0 <= index < len(buffer) else ""


def _yaml_problem(exc: Any, file: str, first_line: int, text: str = "", ending: str = SKIPPED) -> Diagnostic:
    found = yaml_syntax_error(exc, file, first_line, text)
    if looks_like_dump(text):  # (``*filter`` is a YAML alias: PyYAML's "found undefined alias" says nothing)
        return Diagnostic(_dump_given(ending), file=file, line=found.line)
    return dataclasses.replace(found, message=f"{found.message}; {ending}")


def _dump_given(ending: str) -> str:
    what = "it is skipped" if ending == SKIPPED else ending
    return (f"this is an iptables-save dump, not Kubernetes objects, so {what}; trace, graph and netns verify "
            "read a dump with --rules DUMP")


DUMP_GIVEN = _dump_given(SKIPPED)
_DUMP_LINE = re.compile(r"(?:\*(?:filter|nat|mangle|raw|security)|:[^\s:]+[ \t]+(?:ACCEPT|DROP|RETURN|-)"
                        r"|-[AINX][ \t]+\S+|COMMIT)(?:\s|$)")
# (not anchored at the end: a dump of chains alone reads as one string, its lines folded into one)


def looks_like_dump(text: str) -> bool:
    """Whether the first line of ``text`` that is not blank or a comment is one of an iptables-save dump
    (``*nat``, ``:KUBE-SERVICES - [0:0]``, ``-A ...``, ``COMMIT``): a dump given where manifests go. Only on the
    error path (a document that did not parse, or parsed to a string)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return _DUMP_LINE.match(stripped) is not None
    return False


# -- building the cluster ---------------------------------------------------------------------------


class _Builder:
    """Accumulates decoded objects across files; local to one load call."""

    def __init__(self, share: Share | None = None, on_object: ObjectHook | None = None,
                 read_elsewhere: frozenset[str] = frozenset()) -> None:
        self.share = share
        self.on_object = on_object
        self.read_elsewhere = read_elsewhere
        self.diagnostics: list[Diagnostic] = []
        self.positions: list[tuple[int, int]] = []
        self.objects: dict[str, dict[str, Any]] = {kind: {} for kind in _DECODERS}
        self.sequence = 0  # objects seen so far: the position of the messages of the current one
        self.first_seen: dict[tuple[str, str], int] = {}  # (kind, key) of Endpoints and Services -> position,
        # for the messages that arise only once every object is read (mirroring, slices overlapping)
        self.refused_services: set[str] = set()  # "ns/name" of Services skipped over an error
        self.other_services: set[str] = set()  # "ns/name" of the Services another share decodes
        self.file: str | None = None  # the file of the document being read
        self.built_in = False  # whether it is one of the built-in scenarios' (see built_in)
        self.unread: tuple[int, dict[str, int]] | None = None  # this file's note of kinds not read: its index in
        # diagnostics, and how many objects of each kind it counts (see _note_unread)
        self.origin = Origin()  # the current document's: a List's items share their document's, one Origin for
        # the 20,000 objects of a large cluster's dump (frozen, compared by value: sharing it is safe)

    def add_document(self, document: Any, file: str, index: int) -> None:
        if file != self.file or index == 0:  # a new reading (a file given twice is read twice: each its own note)
            self.file, self.unread, self.built_in = file, None, built_in(file)
        if isinstance(document, Diagnostic):
            self.diagnostics.append(document)
        elif document is not None:
            self._add_document(document, file, index)
        self._mark()

    def _mark(self, phase: int = 0) -> None:
        """File the messages added since the last mark under the current position."""
        missing = len(self.diagnostics) - len(self.positions)
        if missing:
            self.positions.extend([(phase, self.sequence)] * missing)
        self.sequence += 1

    def _add_document(self, document: Any, file: str, index: int) -> None:
        where = f"document {index + 1}"
        if type(document) is not dict:
            dump = type(document) is str and index == 0 and looks_like_dump(document)  # (a dump of chains alone)
            self.diagnostics.append(Diagnostic(
                DUMP_GIVEN if dump else
                f"{where} is {type_name(document)}; expected a Kubernetes object with apiVersion and kind",
                file=file))
            return
        kind = document.get("kind")
        items = document.get("items")
        if type(kind) is str and kind.endswith("List") and (items is not None or kind == "List"):
            self._add_list(document, file, index, where)
            return
        self._add_object(document, file, index, where)

    def _add_list(self, document: dict[str, Any], file: str, index: int, where: str) -> None:
        """kind: List (items carry their own kind) or kind: XxxList (items may omit it)."""
        kind = document["kind"]
        items = document.get("items")
        if items is None:
            return
        if type(items) is not list:
            self.diagnostics.append(Diagnostic(f"expected a list, got {type_name(items)}", file=file, kind=kind,
                                               field="items"))
            return
        item_kind = kind[: -len("List")] or None
        api_version = document.get("apiVersion")
        diagnostics, positions, add_object = self.diagnostics, self.positions, self._add_object
        for i, item in enumerate(items):
            if type(item) is not dict:
                if type(item) is Elsewhere:  # (only its place counts, and a Service's name for a slice's note)
                    if item.service is not None:
                        self.other_services.add(item.service)
                else:
                    diagnostics.append(Diagnostic(
                        f"expected a Kubernetes object, got {type_name(item)}", file=file, kind=kind,
                        field=f"items[{i}]"))
            else:
                if item_kind and "kind" not in item:
                    item = {**item, "kind": item_kind}
                    if "apiVersion" not in item and api_version is not None:
                        item["apiVersion"] = api_version
                add_object(item, file, index, where, i)
            # (self._mark(), inline: once per item, 20,000 items a share in a large cluster's List)
            missing = len(diagnostics) - len(positions)
            if missing:
                positions.extend([(0, self.sequence)] * missing)
            self.sequence += 1

    def _add_object(self, document: dict[str, Any], file: str, index: int, where: str,
                    item: int | None = None) -> None:
        """Decode one object; ``where``: its document, ``item``: its index in the document's List, if any (the
        text naming both is made only for an object this share decodes)."""
        kind = document.get("kind")
        names = None  # object_name's (namespace, name, display): read once an object, given to its decoder
        if self.share is not None and (kind == "Service" or kind == "EndpointSlice" or kind == "Endpoints"):
            names = object_name(document)  # (service_key's reading, the slice's without a second name read)
            key = names[2] if kind != "EndpointSlice" else _slice_service_key(document, names[0])
            if not self.share.owns(key):
                if kind == "Service":
                    self.other_services.add(key)  # (a slice's note asks whether its name is read elsewhere)
                return  # another share's service
        if item is not None:
            where = f"{where}, item {item + 1}"
        if type(kind) is not str or not kind:
            self.diagnostics.append(_kind_problem(document, kind, file, where))
            return
        if self.on_object is not None:
            self.on_object(document)
        entry = _DECODERS.get(kind)
        if entry is None:
            meant = _KINDS_FOLDED.get(kind.lower())
            if kind in self.read_elsewhere:
                pass
            elif meant is not None:
                self.diagnostics.append(_kind_in_other_case(document, kind, meant, file))
            elif (close := _close_kind(kind, document.get("apiVersion"))) is not None:
                self.diagnostics.append(_kind_misspelt(document, kind, close, file))
            else:
                self._note_unread(document, kind, file)
            return
        api_version, decoder, namespaced = entry
        if names is None:
            names = object_name(document, namespaced=namespaced)
        display = names[2]
        if document.get("apiVersion") != api_version:
            group = _other_group(document.get("apiVersion"), api_version)
            if group and group not in BUILT_IN_GROUPS:
                self._note_unread(document, f"{kind}.{group}", file)
            else:
                self.diagnostics.append(_version_problem(document.get("apiVersion"), api_version, file, kind,
                                                         display))
            return
        report = Report(file, kind, display)
        try:
            origin = self.origin
            if origin.index != index or origin.file != file:
                origin = self.origin = Origin(file, index)
            value = decoder(document, origin, report, where, names)
        except Exception as exc:  # a decoder bug must not cost the user every other object
            report.error(None, f"internal error while reading this object ({type(exc).__name__}: {exc})")
            value = None
        if value is not None:
            check_fields(report, document, SCHEMAS[kind])
            self.diagnostics.extend(report.diagnostics)
            self._store(kind, value, file, display)
            return
        # a refused object is skipped: its errors say why, and its warnings and notes (a field not set, ...) would
        # only be said of an object that is not used
        self.diagnostics.extend(found for found in report.diagnostics if found.severity is Severity.ERROR)
        if kind == "Service":
            self.refused_services.add(display)  # its Endpoints' note then says why nothing is mirrored

    def _note_unread(self, document: dict[str, Any], kind: str, file: str) -> None:
        """Note an object of a kind kube-proxy does not read: one note a file, naming the object when it is the
        file's only one, else counting them by kind (``kubectl get all -o yaml`` holds hundreds of Deployments,
        ReplicaSets, ...). The note keeps the place of the file's first such object."""
        if self.built_in and kind in SCENARIO_KINDS:
            return
        if self.unread is None:
            self.unread = (len(self.diagnostics), {kind: 1})
            _, _, display = object_name(document)
            self.diagnostics.append(Diagnostic("skipped: kube-proxy does not read this kind", file=file, kind=kind,
                                               object=display, severity=Severity.NOTE))
            return
        index, counts = self.unread
        counts[kind] = counts.get(kind, 0) + 1
        self.diagnostics[index] = _unread_kinds(counts, file)

    def _store(self, kind: str, value: Any, file: str, display: str) -> None:
        """Keep the object; a second one with the same kind and name replaces the first, as apply would."""
        table = self.objects[kind]
        key = value.key  # (a property making a string: read once)
        if kind in ("Endpoints", "Service", "EndpointSlice"):
            self.first_seen.setdefault((kind, key), self.sequence)
        previous = table.get(key)
        if previous is not None:
            self.diagnostics.append(Diagnostic(
                f"defined again; this definition replaces the one from {previous.origin.file} "
                f"(document {previous.origin.index + 1})", file=file, kind=kind, object=display,
                severity=Severity.WARNING))
        table[key] = value

    def finish(self, mirror: bool = True, overlaps: bool = True) -> LoadResult:
        services: dict[str, Service] = self.objects["Service"]
        slices: dict[str, EndpointSlice] = dict(self.objects["EndpointSlice"])
        if mirror:
            self._mirror(services, slices)
            if overlaps:
                self._note_overlaps(services, slices)
            self._note_sliceless(services, slices)
        self._note_strays(services)
        cluster = Cluster(
            services=tuple(services.values()),
            endpoint_slices=tuple(slices.values()),
            nodes=tuple(self.objects["Node"].values()),
            pods=tuple(self.objects["Pod"].values()),
        )
        return LoadResult(cluster=cluster, diagnostics=tuple(self.diagnostics), positions=tuple(self.positions),
                          endpoints=tuple(self.objects["Endpoints"].values()))

    def _mirror(self, services: dict[str, Service], slices: dict[str, EndpointSlice]) -> None:
        """Add the EndpointSlices the mirroring controller would make from v1 Endpoints (with none, nothing is
        read: a large cluster's dump has slices only, 5,000 a process of a split run)."""
        if not self.objects["Endpoints"]:
            return
        has_slices = {(s.namespace, s.service_name) for s in slices.values()}
        endpoints: Endpoints
        for endpoints in self.objects["Endpoints"].values():
            self.sequence = self.first_seen[("Endpoints", endpoints.key)]
            self._mirror_one(endpoints, services, slices, has_slices)
            self._mark(phase=1)

    def _note_overlaps(self, services: dict[str, Service], slices: dict[str, EndpointSlice]) -> None:
        """Warn of endpoints whose copies in two slices of a Service differ where kube-proxy picks one at random
        (see objects.overlap), each at its Service's position (a split load's shares hold all of a service)."""
        for service, notes in conflicting_copies(services, slices.values()):
            self.sequence = self.first_seen[("Service", service.key)]
            self.diagnostics.extend(notes)
            self._mark(phase=2)

    def _note_sliceless(self, services: dict[str, Service], slices: dict[str, EndpointSlice]) -> None:
        """Note the Services whose selector matches ready pods and which no EndpointSlice names (objects.notes),
        each at its Service's position (a split load's shares hold all of a service and every pod)."""
        for note in sliceless_services(services.values(), slices.values(), tuple(self.objects["Pod"].values())):
            if note.object is not None:
                self.sequence = self.first_seen[("Service", note.object)]
            self.diagnostics.append(note)
            self._mark(phase=3)

    def _note_strays(self, services: dict[str, Service]) -> None:
        """Note the EndpointSlices whose Service is read in another namespace only (objects.notes), each at the
        slice's position (its share holds it; the Services of every share are known by name)."""
        keys = services.keys() | self.refused_services | self.other_services
        for note in stray_slices(self.objects["EndpointSlice"].values(), keys):
            if note.object is not None:
                self.sequence = self.first_seen[("EndpointSlice", note.object)]
            self.diagnostics.append(note)
            self._mark(phase=4)

    def _mirror_one(self, endpoints: Endpoints, services: dict[str, Service], slices: dict[str, EndpointSlice],
                    has_slices: set[tuple[str, str]]) -> None:
        found = mirror_one(endpoints, services, slices, has_slices)
        if endpoints.key in self.refused_services:  # not "there is no Service": it was skipped, said above
            found = [dataclasses.replace(d, message=f"not mirrored to EndpointSlices: its Service {endpoints.key} "
                                                    "was skipped (see its error)")
                     if d.message.startswith("not mirrored to EndpointSlices: there is no Service") else d
                     for d in found]
        self.diagnostics.extend(found)


class _Where(TypedDict):
    """The fields naming the Endpoints object in :func:`mirror_one`'s messages."""

    file: str
    kind: str
    object: str


def mirror_one(endpoints: Endpoints, services: dict[str, Service], slices: dict[str, EndpointSlice],
               has_slices: set[tuple[str, str]]) -> list[Diagnostic]:
    """Mirror one Endpoints object into ``slices`` (by key), as the mirroring controller would; the messages
    its choices call for. ``has_slices``: the (namespace, service) pairs that already have EndpointSlices."""
    found = []
    result = mirror_endpoints(endpoints, services.get(endpoints.key))
    where: _Where = {"file": endpoints.origin.file, "kind": "Endpoints", "object": endpoints.key}
    if result.skipped_reason and (endpoints.namespace, endpoints.name) not in has_slices:
        found.append(Diagnostic(result.skipped_reason, severity=Severity.NOTE, **where))
    if result.dropped:
        found.append(Diagnostic(f"{result.dropped} addresses not mirrored: the controller copies at most 1000 per "
                                "subset", severity=Severity.WARNING, **where))
    for mirrored in result.slices:
        if mirrored.key in slices:
            found.append(Diagnostic(f"the mirrored EndpointSlice {mirrored.key} is not added: an EndpointSlice "
                                    "with that name was loaded", severity=Severity.WARNING, **where))
            continue
        slices[mirrored.key] = mirrored
    return found



_KINDS_FOLDED = {kind.lower(): kind for kind in _DECODERS}
BUILT_IN_GROUPS = frozenset({
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps",
    "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "extensions", "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy", "rbac.authorization.k8s.io",
    "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io"})
"""The API groups the Kubernetes API server serves itself: none of them but ours holds a kind we read, so a
``Service`` of ``apps/v1`` is a mistake kubectl refuses (no matches for kind "Service" in version "apps/v1"), not
another resource of that name, as a CRD's ``Service`` (Knative's) is."""
_OUR_GROUPS = frozenset(version.rpartition("/")[0] for version, _, _ in _DECODERS.values())
_REMOVED_VERSIONS = {"discovery.k8s.io/v1beta1": "v1beta1 was removed in Kubernetes 1.25; kube-proxy reads v1 only"}
"""Why a version of a kind we read is not read, where there is more to say than "not supported"."""


def built_in(file: str) -> bool:
    """Whether a file is one of the built-in scenarios' (rulesets/): its objects of :data:`SCENARIO_KINDS`
    (bootcamp's Deployment, which ``scenario`` plays) are the project's, not the user's, so a note of them would
    only be noise on every ``--scenario`` command."""
    return file != STDIN_NAME and os.path.realpath(file).startswith(BUILT_IN + os.sep)


def _unread_kinds(counts: dict[str, int], file: str) -> Diagnostic:
    """The note of a file's objects of kinds kube-proxy does not read, counted by kind in the order first seen."""
    parts = [f"{count:,} {kind}" for kind, count in counts.items()]
    these = "these kinds" if len(parts) > 1 else "this kind"
    return Diagnostic(f"skipped {joined(parts)} objects: kube-proxy does not read {these}", file=file,
                      severity=Severity.NOTE)


def _kind_in_other_case(document: dict[str, Any], kind: str, meant: str, file: str) -> Diagnostic:
    """The error of an object whose kind is one of ours in another case (``kind: service``): kubectl refuses it
    (kinds are case-sensitive), as it refuses another apiVersion, and it is likely a typo, so it is said of the
    object, not counted in a note."""
    _, _, display = object_name(document)
    return Diagnostic(f"{quote(kind)} is not a kind kube-proxy reads (kinds are case-sensitive); did you mean "
                      f"{meant}? this object is skipped", file=file, kind=kind, object=display, field="kind")


def _close_kind(kind: str, api_version: object) -> str | None:
    """The kind we read that ``kind`` likely misspells (``Servce``, ``EndpointSlices``), by difflib at 0.8 as the
    field hints; only under one of our kinds' API groups (or none given), so that another group's real kind
    (apiregistration's ``APIService``) is not taken for a typo."""
    group = api_version.rpartition("/")[0] if type(api_version) is str else ""
    if group not in _OUR_GROUPS:
        return None
    import difflib  # (only for a kind not read: clean inputs never load it)

    close = difflib.get_close_matches(kind, sorted(_DECODERS), n=1, cutoff=0.8)
    return close[0] if close else None


def _kind_misspelt(document: dict[str, Any], kind: str, meant: str, file: str) -> Diagnostic:
    """The note of an object whose kind is close to one we read: said of the object, with the kind it likely
    means, not counted among the kinds not read, where a Service lost to a typo would go unseen."""
    _, _, display = object_name(document)
    return Diagnostic(f"skipped: kube-proxy does not read this kind; did you mean {meant}?", file=file, kind=kind,
                      object=display, severity=Severity.NOTE)


def _other_group(given: object, expected: str) -> str | None:
    """The API group an apiVersion names when it is not the group of ``expected`` (``serving.knative.dev`` of a
    Knative ``Service``, a CRD's): another resource, which kube-proxy does not read, whatever its kind is called;
    None for our own group or no group named (a version of ours that is not served is an error, as kubectl's)."""
    if type(given) is not str or "/" not in given:
        return None
    group = given.rpartition("/")[0]
    return group if group and group != expected.rpartition("/")[0] else None


def _version_problem(given: object, expected: str, file: str, kind: str, display: str) -> Diagnostic:
    """The error of an object of a kind we read with another apiVersion, or none: kubectl refuses it too
    ("apiVersion not set", or no such version served)."""
    group = _other_group(given, expected)
    if given is None or given == "":
        problem = "not set" if given is None else "empty"
    elif group is not None:  # (a built-in group's: another's is a resource not read, noted by the caller)
        problem = f"{quote(given)} is not supported: the Kubernetes API group {group} has no kind {kind}"
    else:
        problem = f"{quote(given)} is not supported"
    removed = _REMOVED_VERSIONS.get(given) if type(given) is str else None
    return Diagnostic(f"{problem}; expected {expected}" + (f" ({removed})" if removed else ""), file=file, kind=kind,
                      object=display, field="apiVersion")


def _kind_problem(document: dict[str, Any], kind: object, file: str, where: str) -> Diagnostic:
    """What is wrong with a document's kind: missing, or not a string (named by the object when it has a name,
    since ``kind: [Service]`` is there, just of the wrong type)."""
    expected = "expected Service, EndpointSlice, Endpoints, Node or Pod"
    first = next(iter(document), None)
    if kind is None and len(document) == 1 and type(first) is str and looks_like_dump(first):
        return Diagnostic(DUMP_GIVEN, file=file)  # (a rule's comment with ": " in it made the dump a mapping)
    if kind is None or kind == "":
        missing = "not set" if kind is None else "empty"  # (the field names kind: not "kind: kind is required")
        return Diagnostic(f"{missing} ({where}); {expected}", file=file, field="kind")
    _, name, display = object_name(document, namespaced=False)
    problem = not_a_string(kind)
    return Diagnostic(f"{problem} ({where}); {expected}", file=file, object=display if name else None,
                      field="kind")
