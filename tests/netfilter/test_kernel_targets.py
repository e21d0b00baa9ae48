"""Targets and options as the kernel treats them, checked against real kernel runs (QA session 6): NFQUEUE and
SYNPROXY end the walk, CONNMARK's two masks, ctstatus NONE, numeric protocols in an indexed chain, and
free-form values that look like options."""

from __future__ import annotations

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, Sampler
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def verdicts(text: str, dport: int, proto: str = "udp") -> list[str]:
    tracer = Tracer(parse_ruleset(text), NodeContext.of(("10.9.0.1/24",)))
    result = tracer.trace(Packet.of(proto, "10.9.0.2", "10.9.0.1", dport))
    return [o.verdict for o in result.outcomes]


def test_nfqueue_ends_the_walk_with_the_kernel_s_default_verdict() -> None:
    text = HEAD + ("-A INPUT -p udp -m udp --dport 6020 -j NFQUEUE --queue-num 3 --queue-bypass\n"
                   "-A INPUT -p udp -m udp --dport 6020 -j DROP\n"
                   "-A INPUT -p udp -m udp --dport 6021 -j NFQUEUE --queue-num 4\n"
                   "-A INPUT -p udp -m udp --dport 6021 -j ACCEPT\nCOMMIT\n")
    assert verdicts(text, 6020) == ["ACCEPT"] and verdicts(text, 6021) == ["DROP"]


def test_synproxy_takes_the_packet() -> None:
    text = HEAD + ("-A INPUT -p tcp -m tcp --dport 6060 -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460\n"
                   "-A INPUT -p tcp -m tcp --dport 6060 -j REJECT --reject-with tcp-reset\nCOMMIT\n")
    assert verdicts(text, 6060, "tcp") == ["DROP"]


def test_connmark_save_uses_both_masks() -> None:
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -m udp --dport 6003 -j MARK --set-xmark 0x105/0xffffffff\n"
            "-A PREROUTING -p udp -m udp --dport 6003 -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff\nCOMMIT\n"
            + HEAD + "-A INPUT -p udp -m udp --dport 6003 -m connmark --mark 0x105 -j DROP\n"
            "-A INPUT -p udp -m udp --dport 6003 -m connmark --mark 0x5 -j REJECT\nCOMMIT\n")
    assert verdicts(text, 6003) == ["REJECT"]  # ctmark = (0 & ~0xff) ^ (0x105 & 0xff) = 0x5


def test_connmark_restore_uses_both_masks() -> None:
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp -m udp --dport 6004 -j CONNMARK --set-xmark 0x105/0xffffffff\n"
            "-A PREROUTING -p udp -m udp --dport 6004 -j MARK --set-xmark 0x1234/0xffffffff\n"
            "-A PREROUTING -p udp -m udp --dport 6004 -j CONNMARK --restore-mark --nfmask 0xff00 --ctmask 0xff\n"
            "COMMIT\n" + HEAD + "-A INPUT -p udp -m udp --dport 6004 -m mark --mark 0x1300 -j DROP\n"
            "-A INPUT -p udp -m udp --dport 6004 -m mark --mark 0x31 -j REJECT\nCOMMIT\n")
    assert verdicts(text, 6004) == ["REJECT"]  # mark = (0x1234 & ~0xff00) ^ (0x105 & 0xff) = 0x31 (a kernel run)


def test_ctstatus_none_never_matches_in_the_kernel() -> None:
    text = HEAD + "-A INPUT -m conntrack --ctstatus NONE -j DROP\nCOMMIT\n"
    assert verdicts(text, 7000) == ["ACCEPT"]


def test_a_numeric_protocol_is_found_in_an_indexed_chain() -> None:
    rules = "".join(f"-A INPUT -p tcp -m tcp --dport {1000 + i} -j ACCEPT\n" for i in range(1, 21))
    text = HEAD + "-A INPUT -p 6 -m tcp --dport 80 -j DROP\n" + rules + "COMMIT\n"
    assert verdicts(text, 80, "tcp") == ["DROP"]


def test_free_form_values_may_look_like_options() -> None:
    text = HEAD + ("-A INPUT -p udp -m comment --comment --to-ports -j LOG --log-prefix -j\n"
                   "-A INPUT -p udp -m comment --comment - -j NFLOG --nflog-prefix --x\n"
                   "-A INPUT -p udp -j DROP\nCOMMIT\n")
    assert verdicts(text, 53) == ["DROP"]
    (table,) = parse_ruleset(text).tables
    comments = [o.value for r in table.chain("INPUT").rules[:2] for o in r.parsed.options if o.flag == "--comment"]
    assert comments == ["--to-ports", "-"]


def sampled_walks(text: str, packets: list[Packet]) -> list[list[int]]:
    """The filter INPUT rule numbers each packet matched, packet after packet, in one sampling run."""
    engine = Engine(compile_ruleset(parse_ruleset(text)), NodeContext.of(("10.9.0.1/24",)), Sampler(rng=lambda: 0))
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("-A INPUT")]
    return [[lines.index(r.line) + 1 for r in finished.path if r.line in lines]
            for packet in packets for finished in engine.run(packet)]


def test_nth_counts_from_its_packet_and_only_where_the_walk_reaches_it() -> None:
    """xt_statistic (a kernel run, tests/kernel/test_eval_kernel_differential.py): --packet P matches the
    P-th evaluation (from 0) and every --every-th after it, so --packet 0 matches the first packet; the counter
    moves whenever the match is reached, even when a later match of the rule fails; ! inverts the match."""
    text = HEAD + ("-A INPUT -m statistic --mode nth --every 2 --packet 0\n"
                   "-A INPUT -p udp -m statistic --mode nth --every 2 --packet 1 -m udp --dport 81\n"
                   "-A INPUT -m statistic --mode nth ! --every 2 --packet 1\n"
                   "-A INPUT -p tcp -m statistic --mode nth --every 3 --packet 1\nCOMMIT\n")
    sent = (("udp", 80), ("udp", 80), ("udp", 81), ("udp", 81), ("tcp", 80), ("tcp", 80), ("tcp", 80))
    packets = [Packet.of(proto, "10.9.0.2", "10.9.0.1", dport, 1000 + i) for i, (proto, dport) in enumerate(sent)]
    # rule 2: its second evaluation (a packet to port 80) is its slot, so the match fails and the slot passes
    assert sampled_walks(text, packets) == [[1, 3], [], [1, 3], [2], [1, 3], [4], [1, 3]]  # as the kernel counted
