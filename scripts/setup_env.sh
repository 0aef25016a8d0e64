#!/usr/bin/env bash
# Copyright 2026 The adapter_switcher Authors
# SPDX-License-Identifier: Apache-2.0
#
# Installs everything adapter_switcher needs on a fresh Debian/Ubuntu machine and leaves a
# virtual environment in $ADAPTER_SWITCHER_VENV (default: .venv in the repository):
#   - system packages: libosmesa6 (headless MuJoCo camera), ignition-tools + libsdformat-dev
#     (`ign sdf -k`, the SDF validator);
#   - PyTorch pinned to a CPU build (a looser pin pulls several GB of CUDA packages);
#   - this package in editable mode with its test and serve (Ray Serve) extras;
#   - the ROS 2 client libraries as `ros-*` wheels from PyPI, unless ROS 2 is already installed
#     and sourced (ROS_DISTRO set), in which case the sourced install is used and never shadowed.
# Idempotent: a second run only checks.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${ADAPTER_SWITCHER_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
APT_PACKAGES=(libosmesa6 ignition-tools libsdformat-dev)
# How long apt-get waits for a dpkg/apt lock held by another package manager (an unattended
# upgrade, a second setup) before giving up.
APT_LOCK_TIMEOUT_S=${APT_LOCK_TIMEOUT_S:-600}
APT_RETRY_S=${APT_RETRY_S:-5}
SUDO=()

log() { printf '[setup] %s\n' "$*"; }

# apt-get that waits, at most APT_LOCK_TIMEOUT_S in all, while another process holds the apt or
# dpkg lock, instead of failing at once: DPkg::Lock::Timeout makes apt wait for the dpkg lock
# itself, and a failure that names a lock (the lists lock of `update`, older apt) is retried.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_TIMEOUT_S)) output status
  while :; do
    status=0
    output=$("${SUDO[@]}" apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S" "$@" 2>&1) \
      || status=$?
    printf '%s\n' "$output"
    [ "$status" -eq 0 ] && return 0
    grep -qiE 'could not get lock|unable to (acquire|lock)' <<<"$output" || return "$status"
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the apt/dpkg lock is still held after ${APT_LOCK_TIMEOUT_S} s: giving up"
      return "$status"
    fi
    log "another package manager holds the apt/dpkg lock: retrying in ${APT_RETRY_S} s"
    sleep "$APT_RETRY_S"
  done
}

install_system_packages() {
  command -v apt-get >/dev/null 2>&1 || { log "no apt-get: install ${APT_PACKAGES[*]} yourself"; return; }
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -ne 0 ] && SUDO=(sudo)
  log "apt-get install ${missing[*]}"
  apt_get update -q
  DEBIAN_FRONTEND=noninteractive apt_get install -y -q --no-install-recommends "${missing[@]}"
}

create_venv() {
  local venv_args=()
  # A sourced ROS 2 install lives in the system site-packages: let the venv see it.
  [ -n "${ROS_DISTRO:-}" ] && venv_args+=(--system-site-packages)
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
  fi
}

install_python_packages() {
  local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  local extras=test,serve
  if [ -n "${ROS_DISTRO:-}" ]; then
    log "ROS 2 $ROS_DISTRO is sourced: using it, no ros-* wheels"
  else
    extras=$extras,ros-wheels
  fi
  log "pip install torch==$TORCH_VERSION and adapter_switcher[$extras]"
  "${pip[@]}" "torch==$TORCH_VERSION"
  "${pip[@]}" -e "$ROOT[$extras]"
}

# Sourcing the script (tests) defines the functions without installing anything.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  install_system_packages
  create_venv
  install_python_packages
  log "done: environment in $VENV"
fi
