#!/usr/bin/env bash
# Shared set-up for scripts/test, scripts/demo and scripts/bench: installs missing Debian packages and
# configures + builds one build tree. Sourced, not run.
set -euo pipefail

ALLOY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALLOY_PACKAGES=(g++ cmake ninja-build libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
                libspdlog-dev catch2 libssl-dev openssl ca-certificates)

alloy_install_packages() {
  local missing=()
  for p in "${ALLOY_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# alloy_build BUILD_DIR [extra cmake args...] [-- targets...]
alloy_build() {
  local dir="$1"; shift
  local cmake_args=() targets=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; targets=("$@"); break; fi
    cmake_args+=("$1"); shift
  done
  cmake -S "$ALLOY_ROOT" -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}"
  else
    cmake --build "$dir" --parallel "$(nproc)"
  fi
}
