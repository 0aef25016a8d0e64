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
The robot's nodes: the context manager and the inference node, with their parameters.

Managed (the bringup's and launch files' default), both nodes wait unconfigured
(``autostart: false``) and a lifecycle manager brings them up in order, as in Nav2; plain, each
node configures and activates itself.

``launch/robot.launch.py``, the simulation launch files and ``adapter-switcher bringup`` all build
their node list here, so every way of starting the robot runs the same nodes with the same
parameters.
"""

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.paths import share_path

DEFAULT_PARAMS_FILE = 'config/adapter_switcher.yaml'
CONTEXT_MANAGER = 'context_manager'
INFERENCE_NODE = 'inference_node'
LIFECYCLE_MANAGER = 'lifecycle_manager'
STATE_FILE = 'inference_node_state.json'
TRANSITIONS_FILE = 'adapter_transitions.json'

PathLike = Union[str, Path]


def parse_bool(value: Union[bool, str], name: str = 'value') -> bool:
    """Read a launch-argument style boolean ('true'/'false', any case, or 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError(f'{name}: expected true or false, got {value!r}')


def robot_launch_arguments() -> Dict[str, Tuple[str, str]]:
    """Return the robot's launch arguments, ``{name: (default, description)}``."""
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


def default_state_dir(namespace: str = '') -> Path:
    """Return ``$ROS_HOME/adapter_switcher/state/<namespace>`` (ROS_HOME: ~/.ros by default)."""
    ros_home = Path(os.environ.get('ROS_HOME') or Path.home() / '.ros').expanduser()
    return ros_home / 'adapter_switcher' / 'state' / (namespace.replace('/', '.') or '_')


def robot_node_specs(namespace: str = '', params_file: Optional[PathLike] = None,
                     adapters_dir: Optional[PathLike] = None,
                     use_sim_time: Union[bool, str] = False,
                     managed: Union[bool, str] = False,
                     respawn: Union[bool, str] = False,
                     state_dir: Optional[PathLike] = None) -> List[NodeSpec]:
    """
    Return the NodeSpecs of the context manager and the inference node (and their manager).

    ``params_file`` defaults to the package's config/adapter_switcher.yaml; ``adapters_dir``
    (a directory of adapter directories) replaces the inference node's ``adapters_dirs``;
    ``use_sim_time`` is set on both nodes. ``managed`` adds a lifecycle manager that drives
    both nodes (which then do not autostart); ``respawn`` restarts a node that dies. The nodes
    keep their state (the inference node's adapter and mode, the context manager's learned
    transitions) in ``state_dir``, by default :func:`default_state_dir` when ``respawn`` is on,
    so that a respawned node resumes where it crashed. Empty strings mean "not given", as launch
    arguments with an empty default arrive; a boolean that is not one raises ValueError naming
    the argument.
    """
    params = Path(params_file) if params_file else share_path(DEFAULT_PARAMS_FILE)
    if not params.is_file():
        raise FileNotFoundError(f'parameter file {params} does not exist')
    params = str(params.resolve())
    managed = parse_bool(managed, 'managed')
    respawn = parse_bool(respawn, 'respawn')
    common = {'use_sim_time': parse_bool(use_sim_time, 'use_sim_time')}
    if managed:
        common['autostart'] = False
    namespace = namespace.strip().strip('/') if namespace else ''
    context = dict(common)
    inference = dict(common)
    if adapters_dir:
        inference['adapters_dirs'] = [str(Path(adapters_dir).expanduser().resolve())]
    if respawn and not state_dir:
        state_dir = default_state_dir(namespace)
    if state_dir:
        state_dir = Path(state_dir).expanduser().resolve()
        inference['state_file'] = str(state_dir / STATE_FILE)
        context['transitions_file'] = str(state_dir / TRANSITIONS_FILE)
    specs = [
        NodeSpec(executable=CONTEXT_MANAGER,
                 module='adapter_switcher.nodes.context_manager_node',
                 name=CONTEXT_MANAGER, namespace=namespace, parameters=(params, context),
                 respawn=respawn),
        NodeSpec(executable=INFERENCE_NODE,
                 module='adapter_switcher.nodes.inference_node',
                 name=INFERENCE_NODE, namespace=namespace, parameters=(params, inference),
                 respawn=respawn),
    ]
    if managed:
        specs.append(NodeSpec(
            executable=LIFECYCLE_MANAGER,
            module='adapter_switcher.nodes.lifecycle_manager_node',
            name=LIFECYCLE_MANAGER, namespace=namespace,
            parameters=({'use_sim_time': common['use_sim_time'], 'autostart': True,
                         'node_names': [CONTEXT_MANAGER, INFERENCE_NODE]},)))
    return specs
