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

``launch/robot.launch.py``, the simulation launch files and ``adapter-switcher bringup`` all build
their node list here, so every way of starting the robot runs the same nodes with the same
parameters.
"""

from pathlib import Path
from typing import List, Optional, Union

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.paths import share_path

DEFAULT_PARAMS_FILE = 'config/adapter_switcher.yaml'
CONTEXT_MANAGER = 'context_manager'
INFERENCE_NODE = 'inference_node'

PathLike = Union[str, Path]


def parse_bool(value: Union[bool, str]) -> bool:
    """Read a launch-argument style boolean ('true'/'false', any case, or 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes', 'on'):
        return True
    if text in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError(f'expected true or false, got {value!r}')


def robot_node_specs(namespace: str = '', params_file: Optional[PathLike] = None,
                     adapters_dir: Optional[PathLike] = None,
                     use_sim_time: Union[bool, str] = False) -> List[NodeSpec]:
    """
    Return the NodeSpecs of the context manager and the inference node.

    ``params_file`` defaults to the package's config/adapter_switcher.yaml; ``adapters_dir``
    (a directory of adapter directories) replaces the inference node's ``adapters_dirs``;
    ``use_sim_time`` is set on both nodes. Empty strings mean "not given", as launch arguments
    with an empty default arrive.
    """
    params = Path(params_file) if params_file else share_path(DEFAULT_PARAMS_FILE)
    if not params.is_file():
        raise FileNotFoundError(f'parameter file {params} does not exist')
    params = str(params.resolve())
    common = {'use_sim_time': parse_bool(use_sim_time)}
    inference = dict(common)
    if adapters_dir:
        inference['adapters_dirs'] = [str(Path(adapters_dir).expanduser().resolve())]
    namespace = namespace.strip().strip('/') if namespace else ''
    return [
        NodeSpec(executable=CONTEXT_MANAGER,
                 module='adapter_switcher.nodes.context_manager_node',
                 name=CONTEXT_MANAGER, namespace=namespace, parameters=(params, common)),
        NodeSpec(executable=INFERENCE_NODE,
                 module='adapter_switcher.nodes.inference_node',
                 name=INFERENCE_NODE, namespace=namespace, parameters=(params, inference)),
    ]
