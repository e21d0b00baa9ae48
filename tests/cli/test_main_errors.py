"""The command line never shows a traceback: bugs are one line and exit 4; huge exact rationals print."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproxy_sim import errors
from kubeproxy_sim.cli import main as cli
from kubeproxy_sim.cli.options import REPO_RULESETS
from tests.cli._usage_pointer import without_pointer


def _command(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of the command ``name`` (argparse keeps it in the choices of its subparsers action)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def test_an_internal_error_is_one_line_and_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.delenv("KPSIM_DEBUG", raising=False)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)
    _command(parser, "rules").set_defaults(func=boom)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["rules", "--scenario", "bootcamp"])
    assert code == cli.EXIT_INTERNAL == 4
    lines = err.getvalue().splitlines()
    assert lines == ["kubeproxy-sim: internal error (ZeroDivisionError: division by zero); this is a bug in "
                     "kubeproxy-sim, please report it with the command line (KPSIM_DEBUG=1 shows the traceback)"]


@pytest.mark.parametrize("error", [
    errors.InputError(errors.Diagnostic("bad", field="--to")), errors.UsageError(errors.Diagnostic("odd", field="-f")),
    errors.EnvironmentMissing("no iptables"), errors.KubeproxySimError("broken"), ZeroDivisionError("x"),
])
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_fatal_error_is_coloured_as_report_colours_an_error(monkeypatch: pytest.MonkeyPatch, error: Exception,
                                                             where: str) -> None:
    """QA-dumps #4: main's own messages were never coloured, while report's errors are red with --color always."""
    from kubeproxy_sim.cli.output import ANSI, SEVERITY_STYLES, paint

    def fail(args: object) -> int:
        raise error

    monkeypatch.delenv("KPSIM_DEBUG", raising=False)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)
    _command(parser, "rules").set_defaults(func=fail)
    for mode, coloured in (("always", True), ("never", False)):
        color = ["--color", mode]
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            cli.main([*color, "rules"] if where == "before" else ["rules", *color])
        said = err.getvalue()
        (line,) = (without_pointer(said, "rules") if isinstance(error, errors.UsageError) else said).splitlines()
        text = ANSI.sub("", line)
        assert text.startswith("kubeproxy-sim: ")
        assert line == paint(text, *SEVERITY_STYLES["error"], enabled=coloured)  # as report() paints an error


def test_exact_shares_of_a_thousand_endpoint_chain_print() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["trace", "--scenario", "upstream-sync-proxy-rules-large-cluster-mode-below-threshold",
                         "--src", "10.0.0.2", "--dst", "172.30.0.41", "--dport", "80", "-o", "json"])
    assert code == 0
    assert '"probability_exact"' in out.getvalue()


BROKEN = """apiVersion: v1
kind: Service
metadata: {name: broken, namespace: default}
spec: {clusterIP: 10.96.0.99, ports: [{port: eighty}]}
"""


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_send_reports_a_bad_object_once_and_simulates_the_rest(tmp_path) -> None:
    """As every command: the bad object is named, skipped, the rest is used, and the exit status is 1."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    code, out, err = _run(["send", "--scenario", "bootcamp", "-f", str(broken), "--from", "external",
                           "--to", "node/node1:31526", "--count", "10"])
    assert code == 1
    assert err.count("Service default/broken: spec.ports[0].port: expected an integer") == 1
    assert out.startswith("10 tcp connections from external")


@pytest.mark.parametrize(("flags", "message", "status"), [
    (["--pcap", "/nonexistent-dir/x.pcap"], "/nonexistent-dir/x.pcap: --pcap: cannot write it: its directory does not "
     "exist", 1),
    (["--cluster-cidr", "bogus"], "--cluster-cidr: 'bogus' is not a CIDR", 2),  # the wrong shape: README, 2
    (["--nodeport-addresses", "bogus"], "--nodeport-addresses: 'bogus' is not a CIDR", 2),
])
def test_send_flag_problems_are_one_line(flags: list[str], message: str, status: int) -> None:
    code, _, err = _run(["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526",
                         "--count", "3", *flags])
    assert code == status and "Traceback" not in err and "internal error" not in err
    assert err.count(message) == 1


def test_send_hosts_file_not_utf8_is_one_line(tmp_path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"\xff bad\n")  # (not \xff\xfe: a UTF-16 byte order mark, said so)
    code, _, err = _run(["send", "--scenario", "bootcamp", "--hosts", str(hosts), "--from", "external",
                         "--to", "node/node1:31526", "--count", "3"])
    assert code == 1
    assert err.strip().splitlines()[-1] == (f"kubeproxy-sim: {hosts}: --hosts: cannot read it: not UTF-8 text "
                                           "(invalid start byte at byte 0); expected an /etc/hosts-style file "
                                           "(ADDRESS NAME [ALIAS...] lines)")


@pytest.mark.parametrize("argv", [
    ["trace", "-f", "{missing}", "--src", "10.0.0.1", "--dst", "10.96.0.10", "--dport", "7"],
    ["rules", "--scenario", "bootcamp", "-f", "{missing}"],
    ["diff", "--scenario", "bootcamp", "--against", "{missing}"],
])
def test_a_path_that_is_not_there_stops_the_command_before_any_answer(tmp_path, argv: list[str]) -> None:
    missing = tmp_path / "nope.yaml"
    code, out, err = _run([a.format(missing=missing) for a in argv])
    flag = "--against" if "--against" in argv else "-f"
    assert (code, out) == (1, "") and err == (f"kubeproxy-sim: {missing}: {flag}: cannot read it: No such file or "
                                            "directory; expected a YAML or JSON manifest file, a directory of "
                                            "them, or - for standard input\n")


def test_an_after_state_that_cannot_be_read_is_named_by_against(tmp_path) -> None:
    """diff's after state is read by the loader too: a file there that cannot be read names --against, not -f."""
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\n")
    _, _, err = _run(["diff", "--scenario", "bootcamp", "--against", str(bad)])
    assert (f"kubeproxy-sim: {bad}: --against: cannot read it: not UTF-8 text (invalid start byte at byte 0); "
            "expected a YAML or JSON manifest file, a directory of them, or - for standard input") in err.splitlines()


@pytest.mark.parametrize(("argv", "status"), [
    (["rules", "--scenario", "bootcamp", "--iptables-masquerade-bit", "32"], 1),
    # no CIDR where the flag takes CIDRs: the wrong shape, a usage error (README's exit status)
    (["rules", "--scenario", "bootcamp", "--cluster-cidr", "10.244.0.0/33"], 2),
    (["replay", str(REPO_RULESETS / "bootcamp" / "objects.yaml"), "--nodeport-addresses", "bogus"], 2),
    (["scenario", str(REPO_RULESETS / "bootcamp" / "scenario"), "--cluster-cidr", "bogus"], 2),
])
def test_a_node_setting_kube_proxy_would_refuse_stops_the_command_before_any_output(argv: list[str],
                                                                                   status: int) -> None:
    """Rules made with the value left at its default would be another node's rules."""
    code, out, err = _run(argv)
    assert (code, out) == (status, "") and err.count("kubeproxy-sim: ") == 1
    assert err.startswith(f"kubeproxy-sim: {argv[-2]}: "), err  # the flag's own error, not the input's


def test_trace_graph_to_a_folder_that_is_not_there_is_refused_before_the_trace() -> None:
    code, out, err = _run(["trace", "--scenario", "bootcamp", "--src", "10.244.0.200", "--dst", "10.96.142.87",
                           "--dport", "8080", "--graph", "/nonexistent-dir/t.svg"])
    assert (code, out) == (1, "")
    assert err.endswith("/nonexistent-dir/t.svg: --graph: cannot write it: its directory does not exist\n")


def test_a_usage_error_is_one_line_and_a_pointer_to_the_command_s_help(capsys) -> None:
    """As kubectl says one (``See 'kubectl get --help' for usage.``): argparse printed the command's twenty-line
    usage above the error (u1: ``--seed abc``, ``send`` without ``--from``); the command named is the one given."""
    import pytest as _pytest

    from kubeproxy_sim.cli.main import main as cli_main

    for argv, error in (
        (["rules", "--scenario", "bootcamp", "--bogus"], "kubeproxy-sim rules: error: unrecognized arguments: --bogus"),
        (["netns", "send", "x", "--from", "a", "--to", "b", "--bogus"],
         "kubeproxy-sim netns send: error: unrecognized arguments: --bogus"),
        (["dist", "--scenario", "bootcamp", "--seed", "abc"],
         "kubeproxy-sim dist: error: argument --seed: 'abc' is not a whole number (expected decimal digits 0-9)"),
        (["send", "--scenario", "bootcamp", "--to", "web.default:80"],
         "kubeproxy-sim send: error: the following arguments are required: --from"),
        (["--bogus"], "kubeproxy-sim: error: unrecognized arguments: --bogus"),
    ):
        with _pytest.raises(SystemExit) as done:
            cli_main(argv)
        err = capsys.readouterr().err
        prog = error.partition(": error")[0]
        assert done.value.code == 2 and err == f"{error}\nSee '{prog} --help' for usage.\n"


@pytest.mark.parametrize("redirect, message", [
    (">/dev/full", "kubeproxy-sim: cannot write the output: No space left on device"),
    (">&-", "kubeproxy-sim: cannot write the output: standard output is closed"),
])
def test_an_output_that_cannot_be_written_is_the_environment_not_a_bug(redirect: str, message: str) -> None:
    """A full disk or a closed standard output exits 1 with what failed, not 'internal error' and 4."""
    import subprocess
    import sys

    if redirect == ">/dev/full" and not __import__("os").path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    run = subprocess.run(["sh", "-c", f'"$0" -m kubeproxy_sim rules --scenario bootcamp {redirect}', sys.executable],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == message and "internal error" not in run.stderr


def test_a_reader_that_stops_early_is_no_failure() -> None:
    """`rules ... | head -1`: the rest was not wanted, so 0 and no message (README's exit status 0 says so)."""
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-m", "kubeproxy_sim", "rules", "--scenario", "large-cluster"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"*filter\n"
        proc.stdout.close()  # far more than a pipe's buffer is still to come
        err = proc.stderr.read().decode()
        assert proc.wait() == 0
    assert "cannot write" not in err and "internal error" not in err
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`rules ... \\| head -1`" in readme.split("### Exit status", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("objects", ["", "kind: Service\napiVersion: v1\nmetadata: {name: x}\nspec: {ports: 80}\n"])
def test_rules_run_as_the_program_ends_with_its_whole_output_and_status(tmp_path, capsys, objects: str) -> None:
    """``rules`` skips the interpreter's teardown when it is the program (main._exit_now): its text, its
    messages and its status (1 for an object in error) are still all there, as main() returns them."""
    import subprocess
    import sys

    argv = ["rules", "--scenario", "bootcamp"]
    if objects:
        (tmp_path / "bad.yaml").write_text(objects)
        argv += ["-f", str(tmp_path / "bad.yaml")]
    run = subprocess.run([sys.executable, "-m", "kubeproxy_sim", *argv], capture_output=True, text=True)
    status = cli.main(argv)
    captured = capsys.readouterr()
    assert (run.returncode, run.stdout, run.stderr) == (status, captured.out, captured.err)
    assert status == (1 if objects else 0) and run.stdout.endswith("COMMIT\n")


@pytest.mark.parametrize("debug", ["", "1"])
@pytest.mark.parametrize(("argv", "status"), [
    (["rules", "--scenario", "session-affinity"], 0),  # nothing to say: a closed stderr costs nothing
    (["rules", "--scenario", "upstream-bad-ips"], 1),  # a warning that cannot be written, as on a full stderr
    (["dist", "--scenario", "session-affinity", "--to", "web", "--client-interval", "0"], 1),  # the run's error
    (["dist", "--scenario", "session-affinity", "--to", "web", "--requests-per-connection", "2"], 2),  # a usage error
])
def test_a_closed_standard_error_is_an_output_that_cannot_be_written_not_a_bug(argv: list[str], status: int,
                                                                              debug: str) -> None:
    """Started with ``2>&-`` (Python's sys.stderr is then None), a message that cannot be written is not taken
    for a bug of ours (it was 'internal error', exit 4, or a traceback's 1 under KPSIM_DEBUG)."""
    import os
    import subprocess
    import sys

    run = subprocess.run(["sh", "-c", '"$0" -m kubeproxy_sim "$@" 2>&- >/dev/null', sys.executable, *argv],
                         env={**os.environ, "KPSIM_DEBUG": debug}, capture_output=True, text=True)
    assert run.returncode == status



@pytest.mark.parametrize(("argv", "into", "status"), [
    (["rules", "--scenario", "upstream-bad-ips"], "gone", 0),  # `2>&1 | true`: nobody wanted the warning or the text
    (["rules", "-f", "/nonexistent.yaml"], "gone", 1),  # the input error stands, though nobody reads it
    (["rules", "--scenario", "upstream-bad-ips"], "full", 1),  # a warning that cannot be written (closed stderr too)
    (["rules", "--scenario", "session-affinity"], "full", 0),  # nothing to say
])
def test_a_standard_error_that_cannot_take_its_messages_leaves_the_runs_status(argv: list[str], into: str,
                                                                               status: int) -> None:
    """Buffered (as a user's run is; PYTHONUNBUFFERED would hide it), a message whose write failed stays in
    standard error's buffer: the interpreter's flush at exit failed on it again and turned the status into 120.
    ``gone`` is a pipe whose reader has closed (both outputs into it, ``2>&1 | true``); ``full`` is standard
    error on /dev/full, standard output on the null device."""
    import os
    import subprocess
    import sys

    if into == "full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    with contextlib.ExitStack() as stack:
        if into == "gone":
            read_end, write_end = os.pipe()
            os.close(read_end)
            out = err = stack.enter_context(os.fdopen(write_end, "wb"))
        else:
            out = stack.enter_context(open(os.devnull, "wb"))
            err = stack.enter_context(open("/dev/full", "wb"))
        run = subprocess.run([sys.executable, "-m", "kubeproxy_sim", *argv], stdout=out, stderr=err, env=env)
    assert run.returncode == status


@pytest.mark.parametrize("argv", [["netns", "exec", "../x", "node/node1", "--", "true"],
                                  ["netns", "send", "../x", "--from", "external", "--to", "10.0.0.1:80"],
                                  ["netns", "down", "../x"]])
def test_a_cluster_name_netns_up_refuses_is_said_so_not_offered_to_start(argv: list[str]) -> None:
    """QA-errors: `netns exec ../x` said "start one with `netns up --name ../x`", which netns up refuses; `netns down
    ../x` named --name, which down does not take (reviewer)."""
    code, out, err = _run(argv)
    # a NAME of the wrong shape is a usage error, as README's exit statuses say (u1: `netns up --name Bad_Name`)
    assert (code, out) == (2, "") and err == (
        "kubeproxy-sim: NAME: '../x' is not a usable cluster name; expected 1-32 lowercase letters, digits and dashes, "
        f"starting and ending with a letter or digit\nSee 'kubeproxy-sim netns {argv[1]} --help' for usage.\n")


ISSUE_2_SERVICES = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns1}
spec:
  clusterIP: 10.96.0.10
  ports:
  - {name: a, port: 80, protocol: TCP}
  - {name: b, port: 70000, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: ok, namespace: ns1}
spec:
  clusterIP: 10.96.0.11
  ports:
  - {name: a, port: 80, protocol: TCP}
"""


def test_issue_2s_bad_port_is_one_line_naming_file_object_and_field_and_the_rest_is_used(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #2's example, through main(): the Service with a port out of range is named by file, namespace/name
    and field path and left out, the other one's rules are written, and the exit status is 1."""
    (tmp_path / "svc.yaml").write_text(ISSUE_2_SERVICES)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(["rules", "-f", "svc.yaml", "--cluster-cidr", "10.244.0.0/16"])
    assert (code, err) == (1, "kubeproxy-sim: svc.yaml: Service ns1/web: spec.ports[1].port: 70000 is not in "
                              "0-65535\n")
    assert ('-A KUBE-SERVICES -m comment --comment "ns1/ok:a has no endpoints" -m tcp -p tcp -d 10.96.0.11 '
            "--dport 80 -j REJECT") in out.splitlines()
    assert "ns1/web" not in out


def _class_made_during_ctrl_c() -> None:
    """Python 3.11 wraps a KeyboardInterrupt raised while a class is made (as a lazy import of a module defining
    one can be, when Ctrl-C comes then) in RuntimeError("Error calling __set_name__ ..."). Python 3.12 no longer
    wraps it (gh-77757), so there the wrapping is made here: the bare interrupt would stop pytest itself."""
    class Interrupted:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    try:
        type("Made", (), {"field": Interrupted()})
    except KeyboardInterrupt as interrupt:
        raise RuntimeError("Error calling __set_name__ on 'Interrupted' instance 'field' in 'Made'") from interrupt


@pytest.mark.parametrize("where", ["command", "import"])
def test_ctrl_c_wrapped_by_python_is_an_interrupt_not_an_internal_error(monkeypatch: pytest.MonkeyPatch,
                                                                       where: str) -> None:
    """h315: a Ctrl-C during a lazy import said 'internal error (RuntimeError: Error calling __set_name__ ...)'
    and exit 4; it is the user's interrupt: 130, and nothing said."""
    monkeypatch.delenv("KPSIM_DEBUG", raising=False)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # main() silences it on 130
    with pytest.raises(Exception) as wrapped:
        _class_made_during_ctrl_c()
    assert isinstance(wrapped.value.__cause__ or wrapped.value.__context__, KeyboardInterrupt)  # what 3.11 does
    if where == "import":
        monkeypatch.setattr(cli, "build_parser", lambda command=None: _class_made_during_ctrl_c())
    else:
        parser = cli.build_parser()
        monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)
        _command(parser, "rules").set_defaults(func=lambda args: _class_made_during_ctrl_c())
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["rules", "--scenario", "bootcamp"]) == 130
    assert err.getvalue() == ""


def test_an_error_with_no_ctrl_c_in_its_chain_is_not_an_interrupt() -> None:
    try:
        try:
            raise ValueError("first")
        except ValueError as first:
            raise RuntimeError("second") from first
    except RuntimeError as second:
        assert not cli.interrupted_by_ctrl_c(second)
    looped = RuntimeError("loop")
    looped.__context__ = RuntimeError("back")
    looped.__context__.__context__ = looped
    assert not cli.interrupted_by_ctrl_c(looped)


def test_python_m_ends_130_after_a_ctrl_c_that_escaped_code_run_from_a_string(tmp_path: Path) -> None:
    """The watch's flaky Ctrl-C (h315, h317): CPython remembers a KeyboardInterrupt that left an ``exec`` of
    text (dataclasses make ``__init__`` so while a lazily imported module loads) even once main() caught it,
    and ``python -m`` then killed itself with SIGINT (-2, nothing said) instead of ending with 130. The Ctrl-C
    is placed there for certain: a sitecustomize makes building the parser run one."""
    (tmp_path / "sitecustomize.py").write_text(
        "import kubeproxy_sim.cli.main as cli\n\n"
        "def build_parser(command=None):\n"
        "    exec('raise KeyboardInterrupt')\n\n"
        "cli.build_parser = build_parser\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "kubeproxy_sim", "rules"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


def test_version_names_what_is_modelled_on_one_line(capsys) -> None:
    """u1: --version printed only the program's version; it says which kube-proxy it answers for too."""
    from kubeproxy_sim.cli.main import main as cli_main

    with pytest.raises(SystemExit) as done:
        cli_main(["--version"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert out == "kubeproxy-sim 0.1.0: kube-proxy's iptables mode as of kubernetes/kubernetes 531be81208e2 " \
                  "(Kubernetes 1.34)\n"
