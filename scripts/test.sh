#!/usr/bin/env bash
# Copyright 2026 The adapter_switcher Authors
# SPDX-License-Identifier: Apache-2.0
#
# Installs everything (scripts/setup_env.sh) and runs every test: the pytest suite (unit, lint,
# multi-process DDS and closed-loop simulation tests) and the SDF validator on the worlds.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
# shellcheck disable=SC1091
. scripts/env.sh
for world in worlds/*.sdf; do
  [ -e "$world" ] || continue
  echo "[test] ign sdf -k $world"
  ign sdf -k "$world"
done
python -m pytest -q "$@"
