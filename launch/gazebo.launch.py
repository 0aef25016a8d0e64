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
Warehouse simulation in Gazebo (ros_gz_sim) bridged to ROS 2 (ros_gz_bridge), with the robot.

    ros2 launch adapter_switcher gazebo.launch.py [headless:=true] \
        [driver:=robot|navigation|hazard|auto] [world:=...] \
        [namespace:=robot1] [params_file:=...] [adapters_dir:=...] [use_sim_time:=true]

Starts ``gz sim`` with the world through ros_gz_sim's gz_sim.launch.py, the parameter_bridge
with config/gz_bridge.yaml (the embedded simulator's topics), and the nodes from
adapter_switcher.sim.launch_nodes.gazebo_launch_plan (tested there), declared (``ros2 launch -p``
lists them) and filled in from the plan at launch time.
"""

from adapter_switcher.bringup.launch_entities import declared_spec_nodes
from adapter_switcher.bringup.launch_entities import launch_arguments
from adapter_switcher.bringup.launch_entities import LaunchValue
from adapter_switcher.sim.launch_nodes import GAZEBO_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import gazebo_launch_plan

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def _plan(context):
    return gazebo_launch_plan(launch_arguments(context, GAZEBO_LAUNCH_ARGUMENTS))


def generate_launch_description():
    defaults = gazebo_launch_plan({})
    # Every node either driver can start: the robot's (the default) and the expert's.
    templates = defaults.nodes + gazebo_launch_plan({'driver': 'auto'}).nodes
    gz_sim = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare('ros_gz_sim'), 'launch', 'gz_sim.launch.py'])),
        launch_arguments={'gz_args': LaunchValue(lambda c: _plan(c).gz_args, 'gz_args'),
                          'on_exit_shutdown': 'true'}.items())
    bridge = Node(package='ros_gz_bridge', executable='parameter_bridge',
                  name='gz_bridge', parameters=[defaults.bridge_parameters], output='screen')
    return LaunchDescription([
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in GAZEBO_LAUNCH_ARGUMENTS.items()
    ] + [gz_sim, bridge] + declared_spec_nodes(
        lambda arguments: gazebo_launch_plan(arguments).nodes, GAZEBO_LAUNCH_ARGUMENTS,
        templates))
