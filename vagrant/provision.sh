#!/usr/bin/env bash
# Sets up a machine for kubeproxy-sim, idempotently: Debian's iptables, iproute2, conntrack and graphviz
# (for the kernel backend and pictures), zsh (its completion is tested), util-linux's setpriv (a kernel test
# drops root's capabilities with it), and a virtualenv in the repository with the package and its test
# tools. The Vagrant VM and CI both run exactly this script.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KPSIM_VENV:-$repo/.venv}"

missing=()
for pair in iptables-restore:iptables ip:iproute2 conntrack:conntrack dot:graphviz zsh:zsh setpriv:util-linux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "provision: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "provision: please install ${missing[*]} (no apt-get here); kernel tests need them" >&2
  fi
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$repo[test]"
# The package's bytecode, written once here: an editable install writes none, and where PYTHONDONTWRITEBYTECODE
# is set (as on some CI images) every run would compile every module it imports again (~0.15 s of `rules`).
"$venv/bin/python" -m compileall -q "$repo/kubeproxy_sim" >/dev/null
