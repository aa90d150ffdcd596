#!/usr/bin/env bash
# Installs everything sluice needs to build and test, by Debian package name.
# Safe to run again: when every package is present it changes nothing.
# Must run as root (or through sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libboost-dev libsqlite3-dev libssl-dev
  clang libclang-rt-14-dev
  prometheus wrk curl
  gnuplot-nox
  chromium fonts-dejavu-core
  # JupyterLab for workspaces and the Python client's tests, in the venv .venv/ (below).
  python3 python3-venv
)
# The web UI builds with Node.js and npm (Debian 12 ships Node 18). A
# machine that already has another Node.js (say from NodeSource, whose
# nodejs package carries npm itself) keeps it: only what is missing is added.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Workspaces run JupyterLab from the project's own virtual environment
# (.venv, from PyPI at the versions pinned in jupyter-requirements.txt), so
# they never depend on what the user's Python has.
install_jupyter() {
  local root venv reqs stamp
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="$root/.venv"
  reqs="$root/scripts/jupyter-requirements.txt"
  stamp="$venv/.sluice-requirements"
  if [ -x "$venv/bin/jupyter-lab" ] && cmp -s "$reqs" "$stamp"; then
    echo "setup: JupyterLab already installed in .venv"
  else
    echo "setup: installing JupyterLab into .venv"
    # Debian's own Python: not whatever python3 comes first on PATH.
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$reqs"
    cp "$reqs" "$stamp"
  fi
  # Workspaces need not ask their users about Jupyter's news feed (which
  # the machine may not even reach).
  mkdir -p "$venv/share/jupyter/lab/settings"
  echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
    >"$venv/share/jupyter/lab/settings/overrides.json"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=sudo
    else
      echo "setup: missing packages (${missing[*]}) and not root; run this script as root" >&2
      exit 1
    fi
  else
    SUDO=
  fi

  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

install_jupyter

# ---- The Python client's tests: pytest in the project venv .venv/ ----
# The venv is created only when it is missing (other parts of the project
# use it too); the PyPI pins are python/requirements-test.txt, installed
# only when one of them is not there at its pinned version.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating the Python virtual environment $venv"
  /usr/bin/python3 -m venv "$venv"
fi
frozen="$("$venv/bin/python" -m pip freeze --all 2>/dev/null | tr '[:upper:]_' '[:lower:]-')"
need_pins=0
while read -r pin; do
  pin="${pin%%#*}"
  pin="$(echo "$pin" | tr -d '[:space:]' | tr '[:upper:]_' '[:lower:]-')"
  [ -z "$pin" ] && continue
  grep -qx -- "$pin" <<<"$frozen" || need_pins=1
done <"$root/python/requirements-test.txt"
if [ "$need_pins" -eq 1 ]; then
  echo "setup: installing python/requirements-test.txt into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/python/requirements-test.txt"
else
  echo "setup: python/requirements-test.txt already installed in $venv"
fi
# ---- end of the Python client's tests ----

# ---- The Kubernetes tests: kube-env (kube-apiserver + etcd) and helm ----
# Go programs built from the Go module proxy into .tools/bin/ (a Go
# toolchain too, into .tools/go, when none new enough is on PATH); see
# docs/kubernetes-testing.md. Nothing is rebuilt when the binaries are newer
# than their modules.
"$root/scripts/build-kube-env.sh"
# ---- end of the Kubernetes tests ----
