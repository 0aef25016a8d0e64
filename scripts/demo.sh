#!/usr/bin/env bash
# Copyright 2026 The adapter_switcher Authors
# SPDX-License-Identifier: Apache-2.0
#
# Installs everything (scripts/setup_env.sh) and runs the main job: the closed-loop simulated
# demo (simulator, context manager and inference node over DDS; adapter-switcher demo --help).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
# shellcheck disable=SC1091
. scripts/env.sh
adapter-switcher demo "$@"
