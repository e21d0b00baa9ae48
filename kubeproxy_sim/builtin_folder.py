"""Where the built-in scenarios are: one answer for the CLI (cli.options.REPO_RULESETS) and the manifest reader
(objects.load.BUILT_IN, which keeps their files' Deployments unsaid), in a module of its own so that neither layer
imports the other for it, and start-up imports nothing more than pathlib."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
RULESETS = _PACKAGE / "rulesets" if (_PACKAGE / "rulesets").is_dir() else _PACKAGE.parent / "rulesets"
"""The built-in scenarios' folder: the copy a wheel carries in the package (pyproject.toml maps rulesets/ there),
which a regular install reads, else the checkout's rulesets/ (an editable install, whose scenarios are the ones
being edited; a checkout has no kubeproxy_sim/rulesets). Not told apart by a pyproject.toml beside the package: a
``pip install --target`` into a project's own folder has one. Resolved: symbolic links followed, as a file's
realpath is compared with it."""
