# Copyright 2026 The adapter_switcher Authors
# SPDX-License-Identifier: Apache-2.0
#
# Source this after scripts/setup_env.sh: activates the virtual environment and, where the ROS 2
# client libraries come from the ros-* wheels, points AMENT_PREFIX_PATH at it.
_as_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "${ADAPTER_SWITCHER_VENV:-$_as_root/.venv}/bin/activate"
if [ -z "${ROS_DISTRO:-}" ]; then
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
export MUJOCO_GL=${MUJOCO_GL:-osmesa}
export PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-$MUJOCO_GL}
unset _as_root
