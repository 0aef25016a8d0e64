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
Launch the robot's nodes: the context manager and the inference node, with their parameters.

The node list comes from :func:`adapter_switcher.bringup.robot_nodes.robot_node_specs`, the same
function ``adapter-switcher bringup`` uses, so both start the same nodes with the same parameters.

    ros2 launch adapter_switcher robot.launch.py namespace:=robot1 adapters_dir:=/data/adapters
"""

from adapter_switcher.bringup.robot_nodes import robot_node_specs

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _robot_nodes(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    specs = robot_node_specs(namespace=arg('namespace'), params_file=arg('params_file'),
                             adapters_dir=arg('adapters_dir'), use_sim_time=arg('use_sim_time'),
                             managed=arg('managed'), respawn=arg('respawn'))
    return [Node(**spec.launch_kwargs()) for spec in specs]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of both nodes (e.g. robot1).'),
        DeclareLaunchArgument('params_file', default_value='',
                              description='Parameter file; empty: config/adapter_switcher.yaml '
                                          'of this package.'),
        DeclareLaunchArgument('adapters_dir', default_value='',
                              description='Directory of adapter directories; empty: '
                                          'adapters_dirs from the parameter file.'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use the /clock topic (simulation).'),
        DeclareLaunchArgument('managed', default_value='true',
                              description='Lifecycle nodes brought up by a lifecycle manager; '
                                          'false: plain self-starting nodes.'),
        DeclareLaunchArgument('respawn', default_value='false',
                              description='Restart a node that dies; it resumes its saved '
                                          'state.'),
        OpaqueFunction(function=_robot_nodes),
    ])
