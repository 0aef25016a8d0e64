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
The robot's and the simulations' nodes as declared ``launch`` entities, for launch/*.launch.py.

The nodes are declared as plain ``launch_ros`` Node actions, so ``ros2 launch -p`` lists them;
what each node gets from the arguments (autostart off when managed, the adapters directory,
the state files) is computed at launch time by :func:`robot_node_specs`, the function the
``adapter-switcher bringup`` command uses, through two small substitutions:

* :class:`BoolArgument` reads a boolean argument and fails naming it (``managed: expected true
  or false, got 'maybe'``) instead of a Python error about an expression;
* :class:`RobotNodeOverrides` writes the node's overrides to a parameter file and returns its
  path, as Nav2's RewrittenYaml does, so no OpaqueFunction hides the nodes.

:func:`declared_spec_nodes` does the same for any launch-time list of NodeSpecs (sim.launch.py,
gazebo.launch.py): each node that the list can hold is declared, started only when the list
computed from the arguments holds it, with that spec's namespace and parameters.

Imports ``launch``: used only by launch files.
"""

import tempfile
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.bringup.node_spec import PACKAGE
from adapter_switcher.bringup.robot_nodes import CONTEXT_MANAGER
from adapter_switcher.bringup.robot_nodes import INFERENCE_NODE
from adapter_switcher.bringup.robot_nodes import LIFECYCLE_MANAGER
from adapter_switcher.bringup.robot_nodes import parse_bool
from adapter_switcher.bringup.robot_nodes import robot_launch_arguments as robot_arguments
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from launch.actions import DeclareLaunchArgument
from launch.actions import Shutdown
from launch.condition import Condition
from launch.conditions import IfCondition
from launch.substitution import Substitution
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml


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
        specs = {spec.name: spec
                 for spec in robot_node_specs(**launch_arguments(context, robot_arguments()))}
        overrides = specs[self._node].parameters[-1] if self._node in specs else {}
        return _parameter_file(self._node, overrides)


class LaunchValue(Substitution):
    """A string computed from the launch context by ``function`` when the launch runs."""

    def __init__(self, function: Callable, description: str):
        super().__init__()
        self._function = function
        self._description = description

    def describe(self) -> str:
        return self._description

    def perform(self, context) -> str:
        return self._function(context)


SpecsFunction = Callable[[Mapping[str, str]], Sequence[NodeSpec]]


def launch_arguments(context, table: Mapping[str, Tuple[str, str]]) -> dict:
    """Return the values of the arguments of ``table`` (``{name: (default, _)}``) as strings."""
    return {name: context.launch_configurations.get(name, default)
            for name, (default, _) in table.items()}


def declared_spec_nodes(specs_for: SpecsFunction, table: Mapping[str, Tuple[str, str]],
                        templates: Sequence[NodeSpec],
                        on_exit: Optional[Mapping[str, object]] = None) -> List[Node]:
    """
    Declare a Node for each of ``templates``, filled in at launch time from ``specs_for``.

    ``specs_for(arguments)`` returns the NodeSpecs for the values of the arguments of ``table``;
    ``templates`` are every node it can return (with as many parameter sources, and every
    topic it may remap: the targets are filled in at launch time, a topic the spec does not
    remap maps to itself); a node runs only when the list for the given arguments holds it.
    ``on_exit`` maps node names to the action run when that node exits.
    """
    def spec(context, name):
        specs = {s.name: s for s in specs_for(launch_arguments(context, table))}
        return specs.get(name)

    def remapping(name, source):
        def target(context):
            return dict(spec(context, name).remappings).get(source, source)
        return LaunchValue(target, f'remapping of {source} for {name}')

    def parameter(name, index):
        def value(context):
            source = spec(context, name).parameters[index]
            return source if isinstance(source, str) else _parameter_file(name, source)
        return LaunchValue(value, f'NodeSpecParameters({name!r}, {index})')

    nodes = []
    for template in templates:
        name = template.name
        nodes.append(Node(
            package=PACKAGE, executable=template.executable, name=name,
            namespace=LaunchValue(lambda c, n=name: spec(c, n).namespace, f'namespace of {name}'),
            parameters=[parameter(name, i) for i in range(len(template.parameters))],
            remappings=[(source, remapping(name, source)) for source, _ in template.remappings],
            respawn=template.respawn,
            respawn_delay=template.respawn_delay, output='screen',
            condition=Condition(predicate=lambda c, n=name: spec(c, n) is not None),
            on_exit=(on_exit or {}).get(name)))
    return nodes


def _parameter_file(node: str, overrides: Mapping) -> str:
    """Write ``overrides`` as a parameter file for any node; return its path."""
    with tempfile.NamedTemporaryFile('w', prefix=f'{node}_', suffix='.yaml',
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
