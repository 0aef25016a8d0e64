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
Launch the robot's nodes: context manager and inference node, brought up by a lifecycle manager.

The arguments and nodes come from :mod:`adapter_switcher.bringup.launch_entities`, built on
``robot_node_specs``, the function ``adapter-switcher bringup`` uses, so both start the same
nodes with the same parameters.

    ros2 launch adapter_switcher robot.launch.py namespace:=robot1 adapters_dir:=/data/adapters
    ros2 launch adapter_switcher robot.launch.py managed:=false respawn:=true
"""

from adapter_switcher.bringup.launch_entities import robot_launch_entities

from launch import LaunchDescription


def generate_launch_description():
    return LaunchDescription(robot_launch_entities())
