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
The node lists of launch/sim.launch.py and launch/gazebo.launch.py, as tested Python.

The launch files only declare their arguments (from the tables here), pass the values in as
strings and turn the returned :class:`~adapter_switcher.bringup.node_spec.NodeSpec` objects into
``launch_ros`` Node actions; the same specs start processes for tests and the bringup command.
The robot's own nodes come from ``adapter_switcher.bringup.robot_nodes.robot_node_specs``, with
the robot's arguments (namespace, params_file, adapters_dir, use_sim_time) from the same table
robot.launch.py declares; on sim time by default.
"""

from dataclasses import dataclass
from dataclasses import replace
import math
from typing import Any, Dict, List, Mapping, Optional

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.bringup.robot_nodes import robot_launch_arguments
from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.paths import share_path
from adapter_switcher.sim import topics
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD

GZ_BRIDGE_CONFIG = 'config/gz_bridge.yaml'
DRIVERS = ('robot', 'navigation', 'hazard', 'auto')
SIMULATOR = 'simulator'
# What sim.launch.py simulates by default: the scenario the shipped demo models were trained on,
# so a plain `ros2 launch adapter_switcher sim.launch.py` shows the adapter switches.
LAUNCH_SCENARIO = 'config/demo_scenario.yaml'

# name -> (default, description); an empty default means "the package's file".
# The simulator's absolute robot topics, moved into a namespace with the robot (not /clock).
ROBOT_TOPICS = (topics.SCAN, topics.IMAGE, topics.CAMERA_INFO, topics.ODOM, topics.TF,
                topics.CMD_VEL, topics.PLAN)
SIM_LAUNCH_ARGUMENTS = {
    'world': ('', 'SDF world file (empty: the package worlds/warehouse.sdf)'),
    'scenario': ('', 'scenario YAML (empty: the package config/demo_scenario.yaml, the aisle '
                     'with a spill that the shipped demo models drive); a relative path is '
                     'looked up in the package share directory, then the working directory'),
    'seed': ('0', 'episode seed'),
    'real_time_factor': ('1.0', 'sim seconds per wall second; 0 runs as fast as possible'),
    'driver': ('robot', 'who drives: robot (the adapter_switcher nodes) or a scripted expert '
                        '(navigation, hazard, auto)'),
}
# The robot's arguments, passed to its nodes when driver:=robot; sim time by default.
ROBOT_ARGUMENTS = {name: robot_launch_arguments()[name]
                   for name in ('namespace', 'params_file', 'adapters_dir')}
ROBOT_ARGUMENTS['use_sim_time'] = ('true', robot_launch_arguments()['use_sim_time'][1])
SIM_LAUNCH_ARGUMENTS.update(ROBOT_ARGUMENTS)
GAZEBO_LAUNCH_ARGUMENTS = {
    'world': SIM_LAUNCH_ARGUMENTS['world'],
    'driver': SIM_LAUNCH_ARGUMENTS['driver'],
    'headless': ('false', 'run the Gazebo server only, without the GUI'),
    **ROBOT_ARGUMENTS,
}


def simulator_node_spec(world: Optional[str] = None, scenario: Optional[str] = None,
                        seed: int = 0, real_time_factor: float = 1.0,
                        **parameters: Any) -> NodeSpec:
    """
    Return the embedded simulator's node.

    ``world`` and ``scenario`` default to the node's own defaults (the package files); further
    keyword arguments are node parameters (``lidar_rate_hz=10.0``, ...).
    """
    values: Dict[str, Any] = {'seed': int(seed), 'real_time_factor': float(real_time_factor)}
    values.update(_files(world, scenario))
    values.update(parameters)
    return NodeSpec(executable='simulator', module='adapter_switcher.sim.simulator_node',
                    name=SIMULATOR, parameters=(values,))


def expert_driver_node_spec(expert: str = 'auto', world: Optional[str] = None,
                            scenario: Optional[str] = None) -> NodeSpec:
    """Return the expert driver's node, on sim time."""
    if expert not in DRIVERS[1:]:
        raise ValueError(f'expert must be one of {", ".join(DRIVERS[1:])}, got {expert!r}')
    values = {'expert': expert, 'use_sim_time': True}
    values.update(_files(world, scenario))
    return NodeSpec(executable='expert_driver', module='adapter_switcher.sim.expert_driver_node',
                    name='expert_driver', parameters=(values,))


def driver_node_specs(driver: str, world: Optional[str] = None,
                      scenario: Optional[str] = None,
                      robot: Optional[Mapping[str, str]] = None) -> List[NodeSpec]:
    """
    Return the nodes that drive the robot: the robot's own, or a scripted expert.

    ``robot`` holds the robot's arguments (:data:`ROBOT_ARGUMENTS`, strings; missing ones take
    their defaults), passed to ``robot_node_specs`` when the robot drives.
    """
    if driver not in DRIVERS:
        raise ValueError(f'launch argument driver: expected one of {", ".join(DRIVERS)}, '
                         f'got {driver!r}')
    if driver == 'robot':
        return list(robot_node_specs(**_with_defaults(robot or {}, ROBOT_ARGUMENTS)))
    return [expert_driver_node_spec(driver, world, scenario)]


def in_namespace(spec: NodeSpec, namespace: str, moved=ROBOT_TOPICS) -> NodeSpec:
    """
    Return ``spec`` in ``namespace``, its absolute topics ``moved`` into it ('' changes nothing).

    The simulator and the experts publish and subscribe absolute topics (/scan, /cmd_vel, ...),
    where the robot's nodes use relative ones; remapping the absolute ones into the namespace
    puts a namespaced robot and its simulation on the same topics.
    """
    namespace = namespace.strip('/')
    if not namespace:
        return spec
    into = tuple((topic, f'/{namespace}{topic}') for topic in moved)
    return replace(spec, namespace=namespace, remappings=tuple(spec.remappings) + into)


def sim_launch_specs(arguments: Mapping[str, str]) -> List[NodeSpec]:
    """
    Return the nodes of sim.launch.py for its launch arguments (strings, as launch gives).

    With a ``namespace``, the simulator (and an expert driver) move into it with the robot's
    nodes; /clock stays global, since one simulation drives it.
    """
    args = _with_defaults(arguments, SIM_LAUNCH_ARGUMENTS)
    world, scenario = args['world'] or None, args['scenario'] or LAUNCH_SCENARIO
    seed = _parse('seed', args['seed'], int, minimum=0)
    rtf = _parse('real_time_factor', args['real_time_factor'], float, minimum=0.0)
    drivers = driver_node_specs(args['driver'], world, scenario, _robot(args))
    if args['driver'] != 'robot':
        drivers = [in_namespace(spec, args['namespace']) for spec in drivers]
    return [in_namespace(simulator_node_spec(world, scenario, seed, rtf), args['namespace'])] + \
        drivers


@dataclass(frozen=True)
class GazeboPlan:
    """What gazebo.launch.py starts: gz sim's arguments, the bridge's parameters, our nodes."""

    gz_args: str
    bridge_parameters: Dict[str, Any]
    nodes: List[NodeSpec]


def gazebo_launch_plan(arguments: Mapping[str, str]) -> GazeboPlan:
    """Return the plan of gazebo.launch.py for its launch arguments (strings)."""
    args = _with_defaults(arguments, GAZEBO_LAUNCH_ARGUMENTS)
    world = args['world'] or str(share_path(DEFAULT_WORLD))
    headless = _parse('headless', args['headless'], _boolean)
    gz_args = ('-s ' if headless else '') + f'-r {world}'
    bridge = {'config_file': str(share_path(GZ_BRIDGE_CONFIG))}
    return GazeboPlan(gz_args, bridge,
                      driver_node_specs(args['driver'], args['world'] or None, None, _robot(args)))


def _robot(args: Mapping[str, str]) -> Dict[str, str]:
    return {name: args[name] for name in ROBOT_ARGUMENTS}


def _files(world: Optional[str], scenario: Optional[str]) -> Dict[str, str]:
    values = {}
    if world:
        values['world'] = str(world)
    if scenario:
        values['scenario'] = str(scenario)
    return values


def _with_defaults(arguments: Mapping[str, str], table) -> Dict[str, str]:
    unknown = sorted(set(arguments) - set(table))
    if unknown:
        raise ValueError(f'unknown launch argument(s) {unknown}; expected {sorted(table)}')
    return {name: str(arguments.get(name, default)) for name, (default, _) in table.items()}


def _boolean(text: str) -> bool:
    if text.lower() in ('true', '1'):
        return True
    if text.lower() in ('false', '0'):
        return False
    raise ValueError(text)


def _parse(name: str, text: str, kind, minimum=None):
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f'launch argument {name}: expected {kind.__name__.strip("_")}, '
                         f'got {text!r}') from None
    if minimum is not None and not (math.isfinite(value) and value >= minimum):
        raise ValueError(f'launch argument {name}: expected a value >= {minimum}, got {text!r}')
    return value
