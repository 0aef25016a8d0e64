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
        [driver:=robot|navigation|hazard|auto] [world:=...]

Starts ``gz sim`` with the world through ros_gz_sim's gz_sim.launch.py, the parameter_bridge
with config/gz_bridge.yaml (the embedded simulator's topics), and the nodes from
adapter_switcher.sim.launch_nodes.gazebo_launch_plan (tested there).
"""

import os

from adapter_switcher.sim.launch_nodes import GAZEBO_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import gazebo_launch_plan

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import IncludeLaunchDescription
from launch.actions import OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _actions(context):
    arguments = {name: LaunchConfiguration(name).perform(context)
                 for name in GAZEBO_LAUNCH_ARGUMENTS}
    plan = gazebo_launch_plan(arguments)
    gz_sim = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(
            get_package_share_directory('ros_gz_sim'), 'launch', 'gz_sim.launch.py')),
        launch_arguments={'gz_args': plan.gz_args, 'on_exit_shutdown': 'true'}.items())
    bridge = Node(package='ros_gz_bridge', executable='parameter_bridge',
                  name='gz_bridge', parameters=[plan.bridge_parameters], output='screen')
    return [gz_sim, bridge] + [Node(**spec.launch_kwargs()) for spec in plan.nodes]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in GAZEBO_LAUNCH_ARGUMENTS.items()
    ] + [OpaqueFunction(function=_actions)])
