"""Addresses and names of the other IP family: send, dist and diff say so in trace's words (the node's proxier is
of one family; --ip-family picks the other), instead of "no service port" or "does not resolve"."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS
from kubeproxy_sim.simulator.topology import family_mismatch

DS = Path(__file__).parent / "family_states" / "ds.yaml"  # web: clusterIPs [fd00:10:96::10, 10.96.0.10]
DS_FLAGS = ["--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56"]
EXTERNAL_NAME = ("apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\n"
                 "spec: {type: ExternalName, externalName: db.example.com, ports: [{port: 5432}]}\n")


def test_the_helper_is_trace_s_wording() -> None:
    assert family_mismatch("the packet", 6, 4) == ("the packet is IPv6 but the node's proxier is IPv4; expected "
                                                   "addresses of that family (or --ip-family ipv6)")


SWITCHED = ("--ip-family: note: the addresses given are IPv6 and the objects give the node's IPv6 proxier something "
            "to proxy (an IPv6 cluster IP or endpoint slice): simulating that proxier, the one their packets meet, not "
            "the primary IPv4 one, as --ip-family ipv6 does (rules --ip-family ipv6 prints its rules)")
"""What trace, send, dist and diff say when they simulate the node's other proxier for the addresses."""


def test_trace_of_a_packet_of_the_other_family_says_so_through_the_helper(capsys) -> None:
    """Objects of one family: the node runs no proxier of the other, so the packet is refused."""
    common = ["trace", "--scenario", "ipv6", "--src", "198.51.100.7", "--dst", "10.96.0.1", "--dport", "443"]
    assert main(common) == 1
    assert f"--src/--dst: {family_mismatch('the packet', 4, 6)}" in capsys.readouterr().err
    assert "(or --ip-family ipv4)" in family_mismatch("the packet", 4, 6)


def test_dual_stack_objects_meet_a_packet_with_its_own_family_s_proxier(capsys) -> None:
    """A dual-stack node runs a proxier of each family (upstream's metaproxier): without --ip-family, trace, send,
    dist and diff simulate the one of the addresses' family, and say so; --ip-family still picks one."""
    trace = ["trace", "-f", str(DS), *DS_FLAGS, "--src", "fd00:10:244::5", "--dst", "fd00:10:96::10", "--dport", "80"]
    assert main(trace) == 0
    captured = capsys.readouterr()
    assert SWITCHED in captured.err and "-d fd00:10:96::10/128" in captured.out
    assert main([*trace, "--ip-family", "ipv6"]) == 0
    assert "note" not in capsys.readouterr().err
    assert main([*trace, "--ip-family", "ipv4"]) == 1
    assert f"--src/--dst: {family_mismatch('the packet', 6, 4)}" in capsys.readouterr().err
    send = ["send", "-f", str(DS), *DS_FLAGS, "--from", "pod/default/web-1", "--to", "[fd00:10:96::10]:80"]
    assert main(send) == 0
    captured = capsys.readouterr()
    assert SWITCHED in captured.err and "fd00:10:244:2::10" in captured.out
    for to in ("[fd00:10:96::10]:80", "fd00:10:96::10"):
        assert main(["dist", "-f", str(DS), *DS_FLAGS, "--to", to]) == 0
        captured = capsys.readouterr()
        assert SWITCHED in captured.err and "[fd00:10:244:1::10]:8080" in captured.out
    assert main(["diff", "-f", str(DS), "--against", str(DS), *DS_FLAGS, "--to", "[fd00:10:96::10]:80"]) == 0
    assert SWITCHED in capsys.readouterr().err
    assert main(["dist", "-f", str(DS), *DS_FLAGS, "--to", "10.96.0.10:80"]) == 0  # the primary family's: no note
    assert "note" not in capsys.readouterr().err


def test_objects_of_the_packet_s_family_alone_switch_too_and_the_note_says_no_more(tmp_path, capsys) -> None:
    """The switch asks only whether the objects give the packet's proxier something to proxy: IPv6-only objects
    on a node whose primary family is IPv4 (no Node object: the default) switch, and the note does not call them
    dual-stack. load_inputs leaves its caller's flags as given and says the family it read with."""
    import argparse

    from kubeproxy_sim.cli.options import add_input_flags, load_inputs

    objects = tmp_path / "o.yaml"
    objects.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: v6only, namespace: default}\n"
                       "spec: {clusterIP: 'fd00:10:96::40', clusterIPs: ['fd00:10:96::40'], ipFamilies: [IPv6], "
                       "ports: [{name: dns, port: 53, protocol: UDP}]}\n")
    trace = ["trace", "-f", str(objects), "--src", "fd00:10:244:1::5", "--dst", "fd00:10:96::40", "--dport", "53",
             "--proto", "udp"]
    assert main(trace) == 0
    err = capsys.readouterr().err
    assert SWITCHED in err and "dual-stack" not in err
    parser = argparse.ArgumentParser()
    add_input_flags(parser)
    args = parser.parse_args(["-f", str(objects)])
    inputs = load_inputs(args, family=6)
    assert (args.ip_family, inputs.ip_family, inputs.config.ipv6) == (None, "ipv6", True)
    assert load_inputs(args, family=4).ip_family is None and load_inputs(args).config.ipv6 is False


def test_send_from_an_external_address_of_the_other_family_names_the_flag_value(capsys) -> None:
    common = ["send", "--scenario", "ipv6", "--from", "external:198.51.100.7", "--to", "node/node1:30080"]
    assert main(common) == 1
    assert ("--from: 'external:198.51.100.7': expected external:IP with an IPv6 address (or --ip-family ipv4)"
            ) in capsys.readouterr().err


def test_dist_from_an_external_address_of_the_other_family_is_send_s_packet_family(capsys) -> None:
    """dist reads --from external:IP's family as send does (one helper): on dual-stack objects its packets meet
    the IPv6 proxier; where that is not simulated, the refusal names the flag value that simulates it."""
    from kubeproxy_sim.analysis.targets import packet_family
    from kubeproxy_sim.simulator.send import packet_family as send_s

    assert packet_family(["external:2001:db8:ffff::1"], "default/web") == 6 == send_s("external:2001:db8:ffff::1",
                                                                                      "web.default:80")
    assert packet_family(["pod/default/web-1", "external:[2001:db8::1]"], "[fd00::1]:80") == 6
    assert packet_family(["external"], "default/web") is None
    assert packet_family(["external:2001:db8::1"], "10.96.0.10:80") is None  # two families: refused later
    dist = ["dist", "-f", str(DS), *DS_FLAGS, "--from", "external:2001:db8:ffff::1", "--to", "default/web:80"]
    assert main(dist) == 0
    captured = capsys.readouterr()
    assert SWITCHED in captured.err and "[fd00:10:244:1::10]:8080" in captured.out
    assert main([*dist, "--ip-family", "ipv4"]) == 1
    assert ("--from: 'external:2001:db8:ffff::1': not an IPv4 address, the proxier's family (or --ip-family ipv6); "
            "expected pod/NS/NAME, node/NAME, external or external:IP") in capsys.readouterr().err


def test_dist_to_an_address_of_the_other_family_says_so(capsys) -> None:
    assert main(["dist", "--scenario", "ipv6", "--to", "10.96.0.1:443"]) == 1
    assert ("--to: '10.96.0.1:443': the packet is IPv4 but the node's proxier is IPv6; expected addresses of that "
            "family (or --ip-family ipv4)") in capsys.readouterr().err


def test_diff_to_an_address_of_the_other_family_says_so_in_trace_s_words(capsys) -> None:
    objects = str(REPO_RULESETS / "ipv6" / "objects.yaml")
    assert main(["diff", "--scenario", "ipv6", "--against", objects, "--to", "10.96.0.1:443"]) == 1
    assert f"--to: '10.96.0.1:443': {family_mismatch('the packet', 4, 6)}" in capsys.readouterr().err


def test_send_to_an_address_of_the_other_family_says_so(capsys) -> None:
    assert main(["send", "--scenario", "ipv6", "--from", "external", "--to", "10.96.0.1:443"]) == 1
    assert ("'10.96.0.1:443': the packet is IPv4 but the node's proxier is IPv6; expected addresses of that family "
            "(or --ip-family ipv4)") in capsys.readouterr().err


def test_a_hosts_name_with_only_the_other_family_s_address_says_so(tmp_path, capsys) -> None:
    objects = tmp_path / "en6.yaml"
    objects.write_text(EXTERNAL_NAME)
    hosts = tmp_path / "hosts"
    hosts.write_text("198.51.100.9 db.example.com\n")
    common = ["send", "--scenario", "ipv6", "-f", str(objects), "--hosts", str(hosts), "--from", "node/node1"]
    assert main([*common, "--to", "ext.default:5432"]) == 1
    assert ("'ext.default:5432': the name resolves to db.example.com, whose only address in --hosts (198.51.100.9) "
            "is IPv4 but the node's proxier is IPv6; expected an IPv6 address for db.example.com in --hosts "
            "(or --ip-family ipv4)") in capsys.readouterr().err
    assert main([*common, "--to", "db.example.com:5432"]) == 1
    assert "'db.example.com:5432': its only address in --hosts (198.51.100.9) is IPv4" in capsys.readouterr().err
    assert main([*common, "--to", "nope.example.com:5432"]) == 1
    assert "no such name (NXDOMAIN)" in capsys.readouterr().err
    hosts.write_text("198.51.100.9 db.example.com\n2001:db8:abcd::5 db.example.com\n")
    assert main([*common, "--to", "ext.default:5432", "--count", "2"]) == 0
    assert "2001:db8:abcd::5" in capsys.readouterr().out


def _without_one_ipv6_endpoint(tmp_path: Path) -> Path:
    docs = list(yaml.safe_load_all(DS.read_text()))
    for doc in docs:
        if doc.get("kind") == "EndpointSlice" and doc.get("addressType") == "IPv6":
            doc["endpoints"] = doc["endpoints"][:1]
    after = tmp_path / "after.yaml"
    after.write_text(yaml.safe_dump_all(docs))
    return after


def test_diff_of_dual_stack_objects_notes_the_other_family_s_changes(tmp_path, capsys) -> None:
    after = _without_one_ipv6_endpoint(tmp_path)
    assert main(["diff", "-f", str(DS), "--against", str(after), *DS_FLAGS]) == 0
    captured = capsys.readouterr()
    assert "no service port changes" in captured.out  # the IPv4 proxier's answer, as upstream's
    assert ("--ip-family: note: the objects are dual-stack and the IPv6 proxier sees changes too: 1 service port "
            "(default/web:http); this compares the node's IPv4 proxier's (expected --ip-family ipv6 to see them)"
            ) in captured.err
    assert main(["diff", "-f", str(DS), "--against", str(after), *DS_FLAGS, "--ip-family", "ipv6"]) == 0
    captured = capsys.readouterr()
    assert "endpoints lost:   [fd00:10:244:2::10]:8080" in captured.out and "dual-stack" not in captured.err
    assert main(["diff", "-f", str(DS), "--against", str(DS), *DS_FLAGS]) == 0
    assert "dual-stack" not in capsys.readouterr().err


def test_dist_of_dual_stack_objects_notes_the_other_family_s_shares_as_diff_does(capsys) -> None:
    """dist gave the IPv4 half of a dual-stack Service as if it were the whole (QA-docs 4): its notes say, in
    diff's words (one helper), that the IPv6 proxier has shares too and which --ip-family shows them."""
    import json

    from kubeproxy_sim.analysis.nodes import other_family_note

    note = other_family_note(4, ["default/web:http"], "has shares", "shows")
    assert note == ("the objects are dual-stack and the IPv6 proxier has shares too: 1 service port "
                    "(default/web:http); this shows the node's IPv4 proxier's (expected --ip-family ipv6 to see them)")
    assert other_family_note(4, ["default/web:http"], "sees changes", "compares").startswith(
        "the objects are dual-stack and the IPv6 proxier sees changes too: 1 service port (default/web:http); this "
        "compares the node's IPv4 proxier's")
    for to in ([], ["--to", "default/web"]):
        assert main(["dist", "-f", str(DS), *DS_FLAGS, *to, "-o", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["notes"] == [note]
    assert main(["dist", "-f", str(DS), *DS_FLAGS, "--to", "default/web"]) == 0
    assert f"note: {note}" in capsys.readouterr().out
    for flags in (["--ip-family", "ipv4"], ["--ip-family", "ipv6"], ["--to", "10.96.0.10:80"]):
        assert main(["dist", "-f", str(DS), *DS_FLAGS, *flags, "-o", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["notes"] == []


def test_send_from_a_pod_of_the_other_family_only_names_the_flag_value(tmp_path, capsys) -> None:
    """A pod with only an IPv6 address can be simulated by the IPv6 proxier (--ip-family ipv6); one with no
    address at all by neither, so no flag is offered."""
    pod = ("---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: default}\n"
           "spec: {nodeName: node1, containers: [{name: c, image: x}]}\nstatus: {phase: Running%s}\n")
    objects = tmp_path / "v6pod.yaml"
    objects.write_text(DS.read_text() + pod % ', podIP: "fd00:10:244:1::20", podIPs: [{ip: "fd00:10:244:1::20"}]')
    common = ["send", "-f", str(objects), *DS_FLAGS, "--to", "10.96.0.10:80", "--from", "pod/default/client"]
    assert main(common) == 1
    assert ("--from: 'pod/default/client': the pod has no IPv4 address (status.podIPs); expected a pod with one "
            "(or --ip-family ipv6)") in capsys.readouterr().err
    objects.write_text(DS.read_text() + pod % "")
    assert main(common) == 1
    assert "the pod has no IPv4 address (status.podIPs); expected a pod with one\n" in capsys.readouterr().err
