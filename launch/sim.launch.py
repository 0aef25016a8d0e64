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
        [driver:=robot|navigation|hazard|auto] [world:=...] [scenario:=...] \
        [namespace:=robot1] [params_file:=...] [adapters_dir:=...] [use_sim_time:=true]

The node list comes from adapter_switcher.sim.launch_nodes.sim_launch_specs (tested there);
the nodes are declared (``ros2 launch -p`` lists them) and filled in from it at launch time.
The launch ends when the simulator exits.
"""

from adapter_switcher.bringup.launch_entities import declared_spec_nodes
from adapter_switcher.sim.launch_nodes import SIM_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import sim_launch_specs
from adapter_switcher.sim.launch_nodes import SIMULATOR

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import Shutdown


def generate_launch_description():
    # Every node either driver can start: the robot's (the default) and the expert's, with the
    # topics a namespace remaps (a placeholder namespace shows which).
    templates = (sim_launch_specs({'namespace': 'ns'})
                 + sim_launch_specs({'driver': 'auto', 'namespace': 'ns'})[1:])
    # The launch ends when the simulator exits (the world is gone).
    on_exit = {SIMULATOR: Shutdown(reason='the simulator exited')}
    return LaunchDescription([
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in SIM_LAUNCH_ARGUMENTS.items()
    ] + declared_spec_nodes(sim_launch_specs, SIM_LAUNCH_ARGUMENTS, templates, on_exit))
