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
The robot's launch arguments and nodes as ``launch`` entities, for launch/robot.launch.py.

The nodes are declared as plain ``launch_ros`` Node actions, so ``ros2 launch -p`` lists them;
what each node gets from the arguments (autostart off when managed, the adapters directory,
the state files) is computed at launch time by :func:`robot_node_specs`, the function the
``adapter-switcher bringup`` command uses, through two small substitutions:

* :class:`BoolArgument` reads a boolean argument and fails naming it (``managed: expected true
  or false, got 'maybe'``) instead of a Python error about an expression;
* :class:`RobotNodeOverrides` writes the node's overrides to a parameter file and returns its
  path, as Nav2's RewrittenYaml does, so no OpaqueFunction hides the nodes.

Imports ``launch``: used only by launch files.
"""

import tempfile
from typing import Dict, List, Tuple

from adapter_switcher.bringup.node_spec import PACKAGE
from adapter_switcher.bringup.robot_nodes import CONTEXT_MANAGER
from adapter_switcher.bringup.robot_nodes import DEFAULT_PARAMS_FILE
from adapter_switcher.bringup.robot_nodes import INFERENCE_NODE
from adapter_switcher.bringup.robot_nodes import LIFECYCLE_MANAGER
from adapter_switcher.bringup.robot_nodes import parse_bool
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.paths import share_path
from launch.actions import DeclareLaunchArgument
from launch.actions import Shutdown
from launch.conditions import IfCondition
from launch.substitution import Substitution
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml


def robot_arguments() -> Dict[str, Tuple[str, str]]:
    """Return the launch arguments, ``{name: (default, description)}``."""
    return {
        'namespace': ('', 'Namespace of the nodes (e.g. robot1).'),
        'params_file': (str(share_path(DEFAULT_PARAMS_FILE)), 'Parameter file of the nodes.'),
        'adapters_dir': ('', 'Directory of adapter directories; empty: adapters_dirs from '
                             'the parameter file.'),
        'use_sim_time': ('false', 'Follow the /clock topic (simulation).'),
        'managed': ('true', 'Lifecycle nodes brought up by a lifecycle manager; false: plain '
                            'self-starting nodes.'),
        'respawn': ('false', 'Restart a node that dies; it resumes its saved state.'),
        'state_dir': ('', 'Where the nodes keep their state across crashes; empty with '
                          'respawn: $ROS_HOME/adapter_switcher/state/<namespace>.'),
    }


class BoolArgument(Substitution):
    """The boolean launch argument ``name`` as 'true' or 'false'; anything else fails, named."""

    def __init__(self, name: str):
        super().__init__()
        self._name = name

    def describe(self) -> str:
        return f'BoolArgument({self._name!r})'

    def perform(self, context) -> str:
        value = context.launch_configurations.get(self._name, '')
        return 'true' if parse_bool(value, self._name) else 'false'


class RobotNodeOverrides(Substitution):
    """A parameter file holding what the launch arguments set on one node; returns its path."""

    def __init__(self, node_name: str):
        super().__init__()
        self._node = node_name

    def describe(self) -> str:
        return f'RobotNodeOverrides({self._node!r})'

    def perform(self, context) -> str:
        args = {name: context.launch_configurations.get(name, default)
                for name, (default, _) in robot_arguments().items()}
        specs = {spec.name: spec for spec in robot_node_specs(**args)}
        overrides = specs[self._node].parameters[-1] if self._node in specs else {}
        with tempfile.NamedTemporaryFile('w', prefix=f'{self._node}_', suffix='.yaml',
                                         delete=False) as stream:
            yaml.safe_dump({'/**': {'ros__parameters': dict(overrides)}}, stream)
        return stream.name


def robot_launch_entities() -> List:
    """Return the argument declarations and the three nodes of launch/robot.launch.py."""
    entities = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, (default, description) in robot_arguments().items()]
    namespace = LaunchConfiguration('namespace')
    for name in (CONTEXT_MANAGER, INFERENCE_NODE):
        entities.append(Node(
            package=PACKAGE, executable=name, name=name, namespace=namespace,
            parameters=[LaunchConfiguration('params_file'), RobotNodeOverrides(name)],
            respawn=BoolArgument('respawn'), respawn_delay=1.0, output='screen'))
    entities.append(Node(
        package=PACKAGE, executable=LIFECYCLE_MANAGER, name=LIFECYCLE_MANAGER,
        namespace=namespace, parameters=[RobotNodeOverrides(LIFECYCLE_MANAGER)],
        condition=IfCondition(BoolArgument('managed')), output='screen',
        on_exit=Shutdown(reason='the lifecycle manager could not bring the robot up')))
    return entities
