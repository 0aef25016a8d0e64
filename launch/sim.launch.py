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
The launch ends when the simulator exits.
"""

from adapter_switcher.sim.launch_nodes import SIM_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import sim_launch_specs
from adapter_switcher.sim.launch_nodes import SIMULATOR

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.actions import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    arguments = {name: LaunchConfiguration(name).perform(context) for name in SIM_LAUNCH_ARGUMENTS}
    return [_node(spec) for spec in sim_launch_specs(arguments)]


def _node(spec):
    """Return the launch Node; the launch ends when the simulator exits (the world is gone)."""
    kwargs = spec.launch_kwargs()
    if spec.name == SIMULATOR:
        kwargs['on_exit'] = Shutdown(reason='the simulator exited')
    return Node(**kwargs)


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in SIM_LAUNCH_ARGUMENTS.items()
    ] + [OpaqueFunction(function=_nodes)])
