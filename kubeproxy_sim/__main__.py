import sys

from kubeproxy_sim.cli.main import main

status = main()
# ``python -m`` only: CPython records a KeyboardInterrupt that escaped code run from a string (``exec`` and
# ``eval`` of text, as dataclasses and namedtuple make their methods while a module loads), caught or not,
# and after ``-m``'s module ends it kills the process with SIGINT for it: a Ctrl-C during a lazy import, which
# main() turned into 130, ended as "killed by SIGINT" with nothing said. A string run that completes clears
# the record (Python/pythonrun.c run_eval_code_obj); main() has handled every interrupt by now.
exec("")
sys.exit(status)
