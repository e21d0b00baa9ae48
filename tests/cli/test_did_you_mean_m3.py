"""A misspelt command, verb, choice or option is answered with the one it is closest to (cli.parsers.closest:
another case, or difflib's at 0.8, as the manifest and --config readers choose), in one line, exit 2; a word
close to none is refused as before. Python 3.14's argparse suggests so (suggest_on_error); 3.11's does not."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.parsers import closest


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and err.endswith("for usage.\n")
    return err.splitlines()[0]


@pytest.mark.parametrize(("argv", "said"), [
    (["rulez"], "kubeproxy-sim: error: argument COMMAND: invalid choice: 'rulez'; did you mean rules? (choose from "
                "'rules', 'trace'"),
    (["senario", "bootcamp"], "invalid choice: 'senario'; did you mean scenario? (choose from"),
    (["netns", "upp"], "kubeproxy-sim netns: error: argument VERB: invalid choice: 'upp'; did you mean up? (choose"),
    (["scenario", "bootcamp", "--show", "dif"], "argument --show: invalid choice: 'dif'; did you mean diff? (choose "
                                                "from 'rules', 'diff', 'endpoints')"),
    (["rules", "--scenario", "bootcamp", "-o", "JSON"], "invalid choice: 'JSON'; did you mean json?"),
])
def test_a_misspelt_choice_names_the_one_meant(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert said in _usage_error(argv, capsys)


@pytest.mark.parametrize(("argv", "said"), [
    (["rules", "--scenarioo", "bootcamp"], "kubeproxy-sim rules: error: unrecognized arguments: --scenarioo bootcamp "
                                           "(did you mean --scenario NAME?)"),
    (["rules", "--Scenario=bootcamp"], "unrecognized arguments: --Scenario=bootcamp (did you mean --scenario NAME?)"),
    (["scenario", "bootcamp", "--shwo", "diff"], "(did you mean --show rules|diff|endpoints?)"),
    (["--colour", "never", "rules"], "kubeproxy-sim: error: unrecognized arguments: --colour (did you mean --color "
                                     "auto|always|never?)"),
    (["rules", "--sc", "bootcamp"], "(options are taken by their whole names: --scenario NAME)"),  # as before
])
def test_a_misspelt_option_names_the_one_meant(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert said in _usage_error(argv, capsys)


@pytest.mark.parametrize("argv", [["xyzzy"], ["rules", "--scenario", "bootcamp", "--zzzz"],
                                  ["scenario", "bootcamp", "--show", "everything"]])
def test_a_word_close_to_none_gets_no_guess(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean" not in _usage_error(argv, capsys)


def test_closest_prefers_another_case_then_difflib() -> None:
    assert closest("RULES", ["rules", "trace"]) == "rules"
    assert closest("trce", ["rules", "trace"]) == "trace"
    assert closest("zzz", ["rules", "trace"]) is None
