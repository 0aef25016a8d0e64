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
Warehouse simulation in the embedded MuJoCo simulator, with the robot's nodes (or an expert).

    ros2 launch adapter_switcher sim.launch.py [real_time_factor:=0] [seed:=3] \
        [driver:=robot|navigation|hazard|auto] [world:=...] [scenario:=...]

The node list comes from adapter_switcher.sim.launch_nodes.sim_launch_specs (tested there).
"""

from adapter_switcher.sim.launch_nodes import SIM_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import sim_launch_specs

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    arguments = {name: LaunchConfiguration(name).perform(context) for name in SIM_LAUNCH_ARGUMENTS}
    return [Node(**spec.launch_kwargs()) for spec in sim_launch_specs(arguments)]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in SIM_LAUNCH_ARGUMENTS.items()
    ] + [OpaqueFunction(function=_nodes)])
