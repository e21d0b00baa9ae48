"""``rules`` on a large cluster, on two cores: one full sync split over two processes.

A sync is mostly per-service work (decode a Service and its EndpointSlices,
write its chains), and services depend on one another in two ways only: their
rules in the shared chains (KUBE-SERVICES, KUBE-NODEPORTS, ...) follow the
order of their names, and the cluster's endpoint count switches large-cluster
mode. So once the input is parsed (before the fork: the child reads the same
documents from copy-on-write memory; one large JSON List, a large cluster's
dump, after it, half in each process: see objects.json_halves), the services
are cut near the median name (:data:`PARENT_SHARE`). The child decodes and writes the upper part, the parent
the lower part and the node-wide rules; half way each sends the other its
endpoint count (read only by a share too small to be large alone), and at the
end the child sends its rules, which the parent appends after its own (see
``RuleBuffer.extend``). When only the text is wanted, each process also renders
its per-service chains, and the parent merges the two sorted runs by name: the
rendering is done on two cores too. The result is byte for byte the
one-process sync's (a test runs every scenario both ways); if the child fails
in any way, the parent does the whole sync itself.
"""

from __future__ import annotations

import argparse
import mmap
import os
import pickle
import signal
import struct
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO, TypeVar

from kubeproxy_sim.cli.load_notes import other_family_note
from kubeproxy_sim.cli.options import build_config, follow_on, input_names, input_paths
from kubeproxy_sim.errors import Diagnostic
from kubeproxy_sim.netfilter.render import generated_rules_texts, generated_table_text, render_ruleset
from kubeproxy_sim.objects import json_halves
from kubeproxy_sim.objects.bulk import collector_paused
from kubeproxy_sim.objects.load import (
    STDIN,
    Document,
    PathNames,
    Share,
    decode_documents,
    raw_text,
    read_documents,
    read_raw,
    read_texts,
    service_key,
    texts_documents,
)
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.objects.notes import capped_sliceless
from kubeproxy_sim.objects.values import value_class
from kubeproxy_sim.proxier import naming
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules.context import LARGE_CLUSTER_THRESHOLD, RuleBuffer, SyncContext, make_context
from kubeproxy_sim.proxier.sync import (
    SyncResult,
    assemble,
    generate,
    new_buffer,
    service_work,
    write_head,
    write_services,
    write_tail,
)

_R = TypeVar("_R")

SPLIT_THRESHOLD = 2000
"""Services below which one process is faster: a fork and the transfer of half the rules cost ~0.1 s."""

HANDOVER_BYTES = 256 << 20
"""The shared mapping the child's rules come back through (virtual: only the pages written take memory; 16 MB
at 10,000 services): its chain names, then its rendered chains in chunks (_Placed) and the rest pickled. Read
in place: through the pipe they were copied twice more and crossed it 64 KB at a time, 0.02-0.03 s at 10,000
services. Rules that do not fit take the pipe."""

PARENT_SHARE = 0.51
"""The part of the services (in name order) the parent takes: a little more than half, as the child then
pickles and sends its rules (0.04-0.05 s of CPU at 10,000 services) while the parent only reads them;
the two finish together at 0.51 (at 0.50 the child is 0.05 s later, at 0.52 the parent 0.03 s)."""

LIST_PARENT_SHARE = 0.505
""":data:`PARENT_SHARE` when a JSON List is parsed after the fork (:func:`_split_list`); the guessed place to cut
the text is there too, so that few items cross. What is balanced is the child's whole work against the parent's
up to where it takes the child's rules over (its tail comes after the child in any case): CPU time at 10,000
services, the child later by 24-49 ms at 0.49, 1-15 ms at 0.50, by -16 to +4 ms at 0.505, earlier by 7-18 ms at
0.51. (Balancing the instruction counts of both processes whole, tail included, had given 0.49: callgrind counts
no page fault.) Few items cross where a Service's slices follow it (gen_scale's List, a dump of objects by
namespace); a List of every Service first and then every slice (``kubectl get svc,endpointslices -o json``)
crosses about half of them: still one process's output, at the cost of their pickling."""


@value_class
class Synced:
    """A full sync from manifests: the node's config, every message about the input, and the rules.

    ``pieces`` is the restore input when it was asked for, as pieces of whole lines (joined with newlines, they
    are its text, which :meth:`write_text` writes); ``result`` the sync as a ruleset, which a split run asked for
    text only does not build (rendering the two halves apart is what makes it fast).
    """

    config: ProxyConfig
    diagnostics: tuple[Diagnostic, ...]
    result: SyncResult | None
    pieces: list[str] | None

    def write_text(self, stream: TextIO) -> None:
        """Write the restore input to ``stream``, :data:`WRITE_PIECES` pieces at a time.

        Joined whole and written at once, 32 MB at 10,000 services cost 60-90 ms of CPU after both processes
        are done (a new string, its encoded copy, both faulted in page by page); joined and written a part at a
        time, the same bytes cost ~20 ms, the parts reusing the same memory.
        """
        pieces = self.pieces
        assert pieces is not None, "the text was not asked for"
        for start in range(0, len(pieces), WRITE_PIECES):
            if start:
                stream.write("\n")
            stream.write("\n".join(pieces[start:start + WRITE_PIECES]))


WRITE_PIECES = 4096
"""The pieces :meth:`Synced.write_text` joins per write: ~0.5 MB, far more than a write's own cost."""


def load_and_generate(args: argparse.Namespace, *, text: bool = False, threshold: int | None = None) -> Synced:
    """Read the inputs ``args`` name and run one full sync, split over two processes when it is large.

    With ``text`` the restore input is rendered (and, split, rendered by halves); otherwise the ruleset is built.
    One large JSON List (what a large cluster's dump is) is parsed after the fork, half in each process
    (:func:`_split_list`); any other input is parsed before it.
    """
    paths = input_paths(args)
    named = input_names(args, paths)
    threshold = SPLIT_THRESHOLD if threshold is None else threshold
    with collector_paused():  # millions of acyclic containers: see objects.bulk
        raw = _one_large_file(paths, threshold)
        if raw is not None:  # (perhaps one large JSON List: parsed in halves after the fork, else read as text)
            file, data = raw
            place = json_halves.guess(data, LIST_PARENT_SHARE)
            synced = _split_list(file, data, place, args, text, threshold) if place is not None else None
            if synced is not None:
                return synced
            one: tuple[str, str, Diagnostic | None] | None = raw_text(data, file, named)
            del data, raw
        else:
            one = _one_text(paths, named)
        if one is None:
            documents = _read(paths, named)
        else:
            documents = list(texts_documents(*one))
            del one  # (the parsed documents hold all of it now)
        names = sorted(_service_names(documents))
        if len(names) >= max(threshold, 2) and hasattr(os, "fork"):
            # Once decoded, the parsed input is dropped (a third of the peak memory), unless it cannot be read
            # again for the one-process fallback.
            release = STDIN not in paths
            synced = _split(documents, args, Share("", names[int(len(names) * PARENT_SHARE)]), text, release)
            if synced is not None:
                return synced
            if not documents:
                documents = _read(paths, named)
        return _whole(documents, args, text)


SERVICE_BYTES = 100
"""About the fewest bytes a Service takes in a JSON List: a text shorter than the split threshold's services
would take is not worth forking for before it is parsed (the split is decided again on the parsed names)."""


def _one_large_file(paths: list[str], threshold: int) -> tuple[str, bytearray] | None:
    """The one regular file the input is, read undecoded (load.read_raw), when it may hold a List worth parsing
    in halves (at least the threshold's services' bytes, and a fork to be had); else None."""
    if len(paths) != 1 or not hasattr(os, "fork"):
        return None
    try:
        large = os.stat(paths[0]).st_size >= threshold * SERVICE_BYTES
    except OSError:  # (the reading that follows says why)
        return None
    data = read_raw(paths[0]) if large else None
    return None if data is None else (paths[0], data)


def _one_text(paths: list[str], named: PathNames) -> tuple[str, str, Diagnostic | None] | None:
    """The one file the input is, read (display name, text, problem), when it is one file (not a directory, not
    standard input) that :func:`_one_large_file` did not read.

    Its text is then parsed here, as a large file's is: the JSON reader's nesting limit is the interpreter's
    recursion limit, counted from where it is called, so the same file read one way or the other must be parsed
    from the same depth, or the one-process run and a split run's fallback would refuse different depths (a
    test, test_an_item_nested_just_past_the_whole_reading_is_not_read_by_the_halves, finds the edge)."""
    if len(paths) != 1 or paths[0] == STDIN or os.path.isdir(paths[0]):
        return None
    read = list(read_texts(paths, named=named))
    return read[0] if len(read) == 1 else None


def _read(paths: list[str], named: PathNames) -> list[Document]:
    """The documents of the paths, a scenario's objects.yaml that cannot be read named by its flag (``named``:
    options.input_names)."""
    return list(read_documents(paths, named=named))


def _whole(documents: list[Document], args: argparse.Namespace, text: bool) -> Synced:
    loaded = decode_documents(documents)
    config, config_diags = build_config(args, loaded.cluster)
    config_diags = follow_on(config_diags, loaded.diagnostics, loaded.cluster)
    result = generate(loaded.cluster, config)
    family_note = other_family_note(loaded.cluster, config, args.ip_family)
    return Synced(config, (*loaded.diagnostics, *config_diags, *family_note), result,
                  [render_ruleset(result.ruleset)] if text else None)


def _service_names(documents: list[Document]) -> Iterator[str]:
    """The names of the Services among the documents (in Lists too): where to cut, nothing more."""
    for _, _, document in documents:
        if type(document) is not dict:
            continue
        items = document.get("items")
        for obj in items if type(items) is list else (document,):
            if type(obj) is dict and obj.get("kind") == "Service":
                key = service_key(obj)
                if key is not None:
                    yield key


def _split(documents: list[Document], args: argparse.Namespace, lower: Share, text: bool,
           release: bool) -> Synced | None:
    """Fork; the child takes the services from ``lower.high`` on. None when the child failed."""
    upper = Share(lower.high or "", None)

    def child(inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> None:
        _child(documents, args, upper, text, release, inbox, outbox, handover)

    def parent(inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> Synced:
        return _parent(documents, args, lower, text, release, inbox, outbox, handover)

    return _forked(child, parent)


def _split_list(file: str, body: bytearray, place: json_halves.Guess, args: argparse.Namespace, text: bool,
                threshold: int) -> Synced | None:
    """Fork, each process parsing half of the List ``body`` (see objects.json_halves) and decoding its share;
    None when the halves are not one List as the loader reads it, or the child failed."""

    def child(inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> None:
        prepared = _upper_documents(file, body, place, threshold, inbox, outbox)
        if prepared is None:
            raise EOFError("the List is read whole")
        _child(prepared[0], args, prepared[1], text, True, inbox, outbox, handover)

    def parent(inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> Synced | None:
        prepared = _lower_documents(file, body, place, threshold, inbox, outbox)
        if prepared is None:
            return None
        return _parent(prepared[0], args, prepared[1], text, True, inbox, outbox, handover)

    return _forked(child, parent)


_Work = Callable[[BinaryIO, BinaryIO, mmap.mmap], _R]


def _forked(child: _Work[None], parent: _Work[Synced | None]) -> Synced | None:
    """Run ``child`` in a forked process and ``parent`` here, joined by two pipes and a shared mapping (the
    child's rules come back through it): the parent's result, None when the child failed or the parent gave up
    (then the child, whose work is not needed, is killed)."""
    try:
        handover = mmap.mmap(-1, HANDOVER_BYTES)  # shared: what the child writes there, the parent reads
    except OSError:  # not even the reservation is allowed (strict overcommit): one process does it all
        return None
    try:
        pid, (from_child, to_child), (child_in, child_out) = _fork_with_pipes()
    except OSError:  # no process or pipe to be had (EAGAIN, ENOMEM, EMFILE): one process does it all
        handover.close()
        return None
    if pid == 0:  # the child: never returns, never touches stdout (os._exit skips flushing inherited buffers)
        os.close(from_child)
        os.close(to_child)
        status = 1
        try:
            with os.fdopen(child_in, "rb") as inbox, os.fdopen(child_out, "wb") as outbox:
                child(inbox, outbox, handover)
            status = 0
        finally:
            os._exit(status)
    os.close(child_out)
    os.close(child_in)
    try:
        with os.fdopen(from_child, "rb") as inbox, os.fdopen(to_child, "wb") as outbox:
            synced = parent(inbox, outbox, handover)
        if synced is None:
            os.kill(pid, signal.SIGKILL)
        return synced
    except _GIVEN_UP:
        os.kill(pid, signal.SIGKILL)  # (its work is not needed; a child already gone is a zombie, and killed alike)
        return None
    finally:
        os.waitpid(pid, 0)
        handover.close()


_GIVEN_UP = (EOFError, OSError, pickle.PicklingError, pickle.UnpicklingError, RecursionError)
"""What ends the parent's side of a split run for the one-process fallback: the child gone (EOF, a broken pipe),
what crosses the pipe refused by pickle, which gives up at ~500 levels of nesting where the one-process reading
takes ~990 (RecursionError: a review's deeply nested item in the parent's half ended the run with exit 4)."""


def _fork_with_pipes() -> tuple[int, tuple[int, int], tuple[int, int]]:
    """Two pipes and a fork: (pid, the parent's (read, write) ends, the child's (read, write) ends). On a failure,
    whatever was opened is closed again before the error goes on."""
    opened: list[int] = []
    try:
        from_child, child_out = os.pipe()
        opened += (from_child, child_out)
        child_in, to_child = os.pipe()
        opened += (child_in, to_child)
        pid = os.fork()
    except OSError:
        for fd in opened:
            os.close(fd)
        raise
    return pid, (from_child, to_child), (child_in, child_out)


def _lower_documents(file: str, body: bytearray, place: json_halves.Guess, threshold: int, inbox: BinaryIO,
                     outbox: BinaryIO) -> tuple[list[Document], Share] | None:
    """The parent's half of the List, the cut, and the documents of its share (see json_halves.documents).

    The parent sends first at each step, the child reads first: two messages larger than a pipe's buffer
    written both at once would wait for each other forever.
    """
    half = json_halves.lower_half(body, place)
    if half is None:
        return None
    _send(outbox, half.facts)
    upper = _receive(inbox)
    if upper is None:
        return None
    cut = json_halves.joined(half.head, half.facts, upper)
    if cut is None or len(cut.names) < max(threshold, 2):
        return None
    lower = Share("", cut.names[int(len(cut.names) * LIST_PARENT_SHARE)])
    _send(outbox, json_halves.wanted_by(half, 0, Share(lower.high or "", None)))
    return json_halves.documents(file, cut, half, 0, _receive(inbox), lower), lower


def _upper_documents(file: str, body: bytearray, place: json_halves.Guess, threshold: int, inbox: BinaryIO,
                     outbox: BinaryIO) -> tuple[list[Document], Share] | None:
    """The child's side of :func:`_lower_documents`: its half from the guessed place on, the same cut."""
    half = json_halves.upper_half(body, place)
    lower_facts = _receive(inbox)
    _send(outbox, None if half is None else half.facts)
    if half is None:
        return None
    cut = json_halves.joined(half.head, lower_facts, half.facts)
    if cut is None or len(cut.names) < max(threshold, 2):
        return None
    upper = Share(cut.names[int(len(cut.names) * LIST_PARENT_SHARE)], None)
    received = _receive(inbox)
    _send(outbox, json_halves.wanted_by(half, lower_facts.count, Share("", upper.low)))
    return json_halves.documents(file, cut, half, lower_facts.count, received, upper), upper


@dataclass(slots=True)
class _ShareRules:
    """What one process made of its share: the rules of its services, and its messages about the input."""

    config_diags: list[Diagnostic]
    family_note: list[Diagnostic]
    """cli.load_notes' note of the other family, when this share's objects call for it."""
    ctx: SyncContext
    out: RuleBuffer
    diagnostics: tuple[Diagnostic, ...]
    positions: tuple[tuple[int, int], ...]
    count_unread: bool
    """The other process's endpoint count was not needed, and is still in the pipe."""
    read_nothing: bool
    """The share's objects gave no cluster (every one refused): when neither share's did, the config's notes
    follow as after a one-process load that read nothing (cli.options.follow_on)."""


def _share_rules(documents: list[Document], args: argparse.Namespace, share: Share, release: bool,
                 inbox: BinaryIO, outbox: BinaryIO) -> _ShareRules:
    """Decode a share, send the other process its endpoint count (and read its count, when this one's needs
    it), write the share's services.

    The share's objects are dropped on return: only the rules and the messages go on.
    """
    loaded = decode_documents(documents, share)
    if release:
        documents.clear()
    config, config_diags = build_config(args, loaded.cluster)
    work = service_work(loaded.cluster, config)
    own = work.endpoint_count
    _send(outbox, own)
    # Past the threshold alone, the cluster is large whatever the other share holds: no waiting for its count
    # (the parent reads it later), so a large split has no point where one process waits for the other
    # before the end, and the faster share can take more services (PARENT_SHARE).
    alone = own > LARGE_CLUSTER_THRESHOLD
    ctx = make_context(config, own if alone else own + _receive(inbox))
    out = RuleBuffer()
    write_services(ctx, work, out)
    family_note = other_family_note(loaded.cluster, config, args.ip_family)
    return _ShareRules(config_diags, family_note, ctx, out, loaded.diagnostics, loaded.positions,
                       count_unread=alone, read_nothing=loaded.cluster == Cluster())


def _child(documents: list[Document], args: argparse.Namespace, share: Share, text: bool, release: bool,
           inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> None:
    mine = _share_rules(documents, args, share, release, inbox, outbox)
    private = None
    if text:  # the names first: the parent merges them with its own while this process renders its chains
        names = _declared_names(mine.out)
        _hand_over(outbox, handover, ("\n".join(names[0]), "\n".join(names[1])), None)
        private = _private_texts(mine.out, names)
    _hand_over(outbox, handover, _Sent(mine.out, mine.diagnostics, mine.positions, mine.family_note,
                                       mine.read_nothing), private)
    if mine.count_unread:  # the parent always sends its count: read it before exiting, or a parent that sends
        _receive(inbox)    # it after this child is gone writes into a closed pipe (EPIPE) and does it all alone


def _parent(documents: list[Document], args: argparse.Namespace, share: Share, text: bool, release: bool,
            inbox: BinaryIO, outbox: BinaryIO, handover: mmap.mmap) -> Synced:
    mine = _share_rules(documents, args, share, release, inbox, outbox)
    names = _declared_names(mine.out) if text else None
    private = None if names is None else _private_texts(mine.out, names)
    if mine.count_unread:
        _receive(inbox)
    if names is not None:  # (sent before the child rendered: merged here while it may still be rendering)
        theirs, _ = _take_over(inbox, handover)
        names = _merged(names[0], theirs[0]), _merged(names[1], theirs[1])
    return _joined(mine, private, names, _take_over(inbox, handover))


def _merged(own: list[str], theirs: str) -> list[str]:
    """Two processes' sorted per-service chain names as one sorted list (their names came joined)."""
    if theirs:
        own += theirs.split("\n")
        own.sort()  # (in place: each copy of 110,000 pointers is 860 KB of fresh pages)
    return own


@value_class
class _Sent:
    """What the child hands over at its end besides its rendered chains: its share's rules (those in the shared
    top-level chains, and all of them when no text was asked for), its messages with where each arose, its note of
    the other family, and whether its share read nothing (see _ShareRules)."""

    rules: RuleBuffer
    diagnostics: tuple[Diagnostic, ...]
    positions: tuple[tuple[int, int], ...]
    family_note: list[Diagnostic]
    read_nothing: bool


def _joined(mine: _ShareRules, private: tuple[_Blocks, _Blocks] | None, names: tuple[list[str], list[str]] | None,
            received: tuple[_Sent, tuple[_Blocks, _Blocks] | None]) -> Synced:
    """The sync of both shares: the parent's, then what the child sent (see :func:`_child`); ``names`` the
    per-service chains both declared (filter, nat), sorted, when the text was asked for."""
    sent, their_private = received
    ctx = mine.ctx
    out = new_buffer()
    write_head(ctx, out)
    out.extend(mine.out)
    out.extend(sent.rules)
    write_tail(ctx, out)
    # Each share capped its sliceless Services' notes (objects.notes) alone: capped again over both, and the
    # other family noted once when either share's objects call for it, the lines are one process's.
    loaded = capped_sliceless(_in_input_order((mine.positions, mine.diagnostics), (sent.positions, sent.diagnostics)))
    config_diags = (follow_on(mine.config_diags, loaded, Cluster()) if mine.read_nothing and sent.read_nothing
                    else mine.config_diags)
    diagnostics = (*loaded, *config_diags, *(mine.family_note or sent.family_note))
    if private is None or their_private is None or names is None:
        return Synced(ctx.config, diagnostics, assemble(ctx, out), None)
    pieces = _table_text("nat", out.nat_chains, out.nat, names[1], private[1], their_private[1])
    pieces[0:0] = _table_text("filter", out.filter_chains, out.filter, names[0], private[0], their_private[0])
    pieces.append("")  # the final newline
    return Synced(ctx.config, diagnostics, None, pieces)


@value_class
class _Blocks:
    """The per-service chains of one table, rendered: the rule lines of those with rules, in the order of their
    names (one string per chain, "" left out).

    The lines are all the merge needs besides the names, which cross apart: a chain's lines start with its name
    (:func:`_in_chain_order`), so no name is paired with its lines. The child writes them into the shared mapping
    (:func:`_placed`); through the pipe they cross as one string (a pickle of 110,000 small strings costs several
    times more than writing them out), and C-level splits cut them again.
    """

    texts: list[str]

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _unpack_blocks, (_SEPARATOR.join(self.texts), len(self.texts))


def _unpack_blocks(texts: str, count: int) -> _Blocks:
    return _Blocks(_cut(texts, count))


_SEPARATOR = "\n\0\0\0"
"""Between two chains' lines as they cross: no proper prefix of it is a suffix, so no occurrence of it straddles
one that joins two chains, and the cut gives the count of chains exactly when no rule holds it (were one to, the
parent does the sync alone). Four characters, as str.split skips through the text faster than for one."""


def _cut(texts: str, count: int) -> list[str]:
    """``count`` chains' lines joined by :data:`_SEPARATOR`, cut apart."""
    cut = texts.split(_SEPARATOR) if count else []
    if len(cut) != count:
        raise pickle.UnpicklingError("a rule holds the separator: its chain's lines cannot be cut apart")
    return cut


@value_class
class _Placed:
    """A :class:`_Blocks` the child wrote into the shared mapping: its lines in chunks of :data:`TEXT_CHUNK`
    chains from ``start``, each chunk's (end, count).

    Written and read a chunk at a time, the 13 MB of lines at 10,000 services need no string of them all on
    either side: each chunk's joined, encoded and decoded copies reuse the memory of the one before, where whole
    they took fresh pages (~3,300 page faults each, 2-4 us apiece on a virtual machine).
    """

    start: int
    chunks: tuple[tuple[int, int], ...]

    def read(self, mapped: memoryview) -> _Blocks:
        texts: list[str] = []
        start = self.start
        for end, count in self.chunks:
            with mapped[start:end] as chunk:
                texts += _cut(str(chunk, "utf-8"), count)
            start = end
        return _Blocks(texts)


TEXT_CHUNK = 4096
"""Chains per chunk of a :class:`_Placed`: ~1 MB."""


def _placed(handover: mmap.mmap, blocks: _Blocks) -> _Placed:
    """Write ``blocks``' lines into the mapping where it stands (ValueError past its end)."""
    start = handover.tell()
    texts = blocks.texts
    chunks = []
    for at in range(0, len(texts), TEXT_CHUNK):
        part = texts[at:at + TEXT_CHUNK]
        handover.write(_SEPARATOR.join(part).encode())
        chunks.append((handover.tell(), len(part)))
    return _Placed(start, tuple(chunks))


def _declared_names(out: RuleBuffer) -> tuple[list[str], list[str]]:
    """(filter, nat) names of the per-service chains a share declared, sorted, taken out of the buffer.

    What is left in the buffer is the share's rules in the shared top-level chains, in service order.
    """
    names = sorted(out.filter_chains), sorted(out.nat_chains)
    out.filter_chains.clear()
    out.nat_chains.clear()
    return names


def _private_texts(out: RuleBuffer, names: tuple[list[str], list[str]]) -> tuple[_Blocks, _Blocks]:
    """(filter, nat) rule lines of the per-service chains of ``names`` (:func:`_declared_names`), taken out of
    the buffer."""
    return (_Blocks(list(filter(None, generated_rules_texts(names[0], out.filter.pop)))),
            _Blocks(list(filter(None, generated_rules_texts(names[1], out.nat.pop)))))


def _table_text(table: str, declared: list[str], rules: dict[str, list[str]], names: list[str], lower: _Blocks,
                upper: _Blocks) -> list[str]:
    """A table's text in pieces: the top-level chains of the joined buffer, and the per-service chains (their
    ``names`` sorted, which this takes) as each process rendered them (sorted runs: the sort is a merge).

    The lists of 110,000 chains at 10,000 services are ordered in place (see :func:`_in_chain_order`).
    """
    for name in declared:
        insort(names, name)
    texts = [*filter(None, generated_rules_texts(declared, rules.get)), *lower.texts, *upper.texts]
    texts.sort()
    return generated_table_text(table, _in_chain_order(names, ""), _in_chain_order(texts, "-A "))


def _in_chain_order(ordered: list[str], prefix: str) -> list[str]:
    """Sorted chain names (``prefix`` "") or chains' rule lines (one string per chain, ``prefix`` "-A "), put in
    canonical_chain_order of their names in place, and returned.

    A chain's lines start with ``-A NAME`` and a space, a newline or their end, all below any character of a
    chain name, so the lines sort as their names do. In place, as their lists are 860 KB at 10,000 services and
    each copy of one costs its fresh pages.
    """
    start = bisect_left(ordered, f"{prefix}KUBE-")
    end = bisect_left(ordered, f"{prefix}KUBE.", start)  # "." follows "-": the first name past the KUBE- run
    first = []
    for top in (naming.KUBE_NODEPORTS, naming.KUBE_SERVICES):
        head = f"{prefix}{top}"
        at = bisect_left(ordered, head, start, end)
        if at < end and ordered[at].startswith(head) and ordered[at][len(head):len(head) + 1] in ("", " ", "\n"):
            first.append(ordered.pop(at))
            end -= 1
    if start or end < len(ordered):  # names outside the KUBE- run come after it
        ordered[:] = ordered[start:end] + ordered[:start] + ordered[end:]
    ordered[0:0] = first
    return ordered


def _in_input_order(lower: tuple[tuple[tuple[int, int], ...], tuple[Diagnostic, ...]],
                    upper: tuple[tuple[tuple[int, int], ...], tuple[Diagnostic, ...]]) -> list[Diagnostic]:
    """The shares' (positions, messages) merged by where they arose, as one process would have listed them.

    Both shares read everything that is not a service's (Nodes, broken documents) and say the same about it
    at the same position: those messages are kept once.
    """
    (low_positions, low_messages), (up_positions, up_messages) = lower, upper
    shared = set(low_positions)
    tagged = [(position, 0, i) for i, position in enumerate(low_positions)]
    tagged += [(position, 1, i) for i, position in enumerate(up_positions) if position not in shared]
    tagged.sort()
    return [(low_messages, up_messages)[n][i] for _, n, i in tagged]


def _send(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)))
    stream.write(data)
    stream.flush()


def _hand_over(stream: BinaryIO, handover: mmap.mmap, shared: Any, private: tuple[_Blocks, _Blocks] | None) -> None:
    """Write the rendered chains (``private``, when the text was asked for: :func:`_placed`) and pickle
    ``shared`` into the shared mapping, and send where the pickle lies; when they do not fit, None and both."""
    try:
        placed = None if private is None else tuple(_placed(handover, blocks) for blocks in private)
        start = handover.tell()
        pickle.dump((shared, placed), handover, protocol=pickle.HIGHEST_PROTOCOL)
    except ValueError:  # written past the mapping's end
        _send(stream, None)
        _send(stream, (shared, private))
    else:
        _send(stream, (start, handover.tell()))


def _take_over(stream: BinaryIO, handover: mmap.mmap) -> tuple[Any, tuple[_Blocks, _Blocks] | None]:
    """What :func:`_hand_over` sent: (shared, private), read from where they lie in the mapping."""
    where = _receive(stream)
    if where is None:
        return _receive(stream)
    start, end = where
    with memoryview(handover) as mapped:
        with mapped[start:end] as pickled:
            shared, placed = pickle.loads(pickled)
        if placed is None:
            return shared, None
        low, high = placed
        return shared, (low.read(mapped), high.read(mapped))


def _receive(stream: BinaryIO) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other half of the sync stopped")
    size = struct.unpack("!Q", header)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other half of the sync stopped")
    return pickle.loads(data)
