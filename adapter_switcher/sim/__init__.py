# Copyright 2026 The adapter_switcher Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Simulation: the warehouse world, an embedded MuJoCo simulator and scripted experts.

The core modules (world reader, scene builder, simulator, scenario, experts) are ROS-free; the
ROS nodes live in ``simulator_node`` and ``expert_driver_node``. Importing the package picks
a headless OpenGL backend for the camera when none is set (:mod:`gl_backend`).
"""

from adapter_switcher.sim import gl_backend

# MuJoCo reads MUJOCO_GL when first imported, which every simulation module does: choose first.
gl_backend.configure()
