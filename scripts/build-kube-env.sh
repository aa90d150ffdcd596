#!/usr/bin/env bash
# Builds the Go programs the Kubernetes tests run, into .tools/bin/:
#   kube-env  a real kube-apiserver and etcd in one process (tests/kube-env/)
#   helm      the helm command line at a pinned version (tests/helm-tool/)
# Both come from the Go module proxy at the versions their go.mod and go.sum
# pin. A binary newer than its module's files is kept, so a second run does
# nothing. When the Go on PATH is older than the modules need, the Go
# toolchain itself is fetched from the module proxy into .tools/go.
# Run by scripts/setup.sh; also safe to run alone.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
go_version=1.26.8 # at least what the modules' go lines ask for
mkdir -p "$bin"

# The toolchain, on PATH or in .tools/go, must be at least $go_version.
version_ok() { # version_ok GO_BINARY
  local have
  have="$("$1" env GOVERSION 2>/dev/null)" || return 1
  have="${have#go}"
  [ "$(printf '%s\n%s\n' "$go_version" "$have" | sort -V | head -1)" = "$go_version" ]
}

# The module cache and build cache stay where Go puts them by default
# (~/go/pkg/mod, ~/.cache/go-build), so a rebuild after a change is quick.
# GOTOOLCHAIN=local: the toolchain chosen here is the one that builds.
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

find_go() {
  local candidate
  for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$tools/go/bin/go"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && version_ok "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_go() {
  local proxy="${GOPROXY:-https://proxy.golang.org}"
  proxy="${proxy%%,*}"
  local zip="$tools/go-toolchain.zip"
  local url="$proxy/golang.org/toolchain/@v/v0.0.1-go${go_version}.linux-amd64.zip"
  echo "build-kube-env: fetching Go $go_version from $url" >&2
  curl -fsSL -o "$zip" "$url"
  rm -rf "$tools/go" "$tools/go-unpack"
  # A module zip holds every file under MODULE@VERSION/; python3's zipfile
  # keeps this free of an unzip package.
  python3 -m zipfile -e "$zip" "$tools/go-unpack"
  mv "$tools/go-unpack/golang.org/toolchain@v0.0.1-go${go_version}.linux-amd64" "$tools/go"
  rm -rf "$tools/go-unpack" "$zip"
  chmod +x "$tools/go/bin/"* "$tools/go/pkg/tool/"*/*
}

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: skipped when .tools/bin/NAME is
# newer than every file of the module.
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="${4:-}"
  local out="$bin/$name" newer
  if [ -x "$out" ]; then
    newer="$(find "$dir" -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
      -newer "$out" | head -1)"
    if [ -z "$newer" ]; then
      echo "build-kube-env: $name is up to date"
      return 0
    fi
  fi
  if [ -z "${GO:-}" ]; then
    GO="$(find_go || { install_go && find_go; })" || {
      echo "build-kube-env: no Go >= $go_version" >&2
      exit 1
    }
  fi
  echo "build-kube-env: building $name with $("$GO" env GOVERSION) (several minutes the first time)"
  local start=$SECONDS
  # Two compile jobs at most, at low priority: the machine is shared with
  # the C++ build.
  (cd "$dir" && nice -n 10 "$GO" build -p 2 -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  echo "build-kube-env: built $out in $((SECONDS - start)) s"
}

GO=
build kube-env "$root/tests/kube-env" .
helm_version="$(awk '$1 == "helm.sh/helm/v3" { print $2 }' "$root/tests/helm-tool/go.mod")"
build helm "$root/tests/helm-tool" helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$helm_version"
