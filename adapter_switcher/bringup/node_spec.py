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
One node to start, described once for both ``ros2 launch`` and the process-based bringup.

Launch files stay thin by turning a list of :class:`NodeSpec` into ``launch_ros.actions.Node``
actions (:meth:`NodeSpec.launch_kwargs`); the ``adapter-switcher bringup`` command turns the same
list into processes (:meth:`NodeSpec.command`), so both start the same nodes with the same
parameters, and the list itself is tested without ``launch`` installed.
"""

from dataclasses import dataclass
from dataclasses import field
import sys
from typing import Any, Dict, List, Sequence, Tuple, Union

PACKAGE = 'adapter_switcher'

ParameterSource = Union[str, Dict[str, Any]]


@dataclass(frozen=True)
class NodeSpec:
    """
    A node of this package: its executable, name, parameters and remappings.

    ``executable`` is the console script (what ``ros2 run`` and ``launch_ros`` start);
    ``module`` is the Python module with the same ``main()``, which the bringup command runs with
    ``python -m`` so it works whether the scripts landed in ``bin/`` (pip) or
    ``lib/adapter_switcher`` (colcon).
    ``parameters`` holds parameter files (paths) and dicts of overrides, applied in order.
    ``respawn`` restarts the node ``respawn_delay`` seconds after it exits on its own (a crash),
    as ``launch_ros`` does.
    """

    executable: str
    module: str
    name: str
    namespace: str = ''
    parameters: Sequence[ParameterSource] = field(default_factory=tuple)
    remappings: Sequence[Tuple[str, str]] = field(default_factory=tuple)
    respawn: bool = False
    respawn_delay: float = 1.0

    def launch_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for ``launch_ros.actions.Node``."""
        return {
            'package': PACKAGE,
            'executable': self.executable,
            'name': self.name,
            'namespace': self.namespace,
            'parameters': list(self.parameters),
            'remappings': list(self.remappings),
            'respawn': self.respawn,
            'respawn_delay': self.respawn_delay,
            'output': 'screen',
        }

    def command(self, python: str = sys.executable) -> List[str]:
        """Return the argv that starts this node as its own process, with ROS arguments."""
        argv = [python, '-m', self.module, '--ros-args', '-r', f'__node:={self.name}']
        if self.namespace:
            argv += ['-r', f'__ns:={_absolute(self.namespace)}']
        for source in self.parameters:
            if isinstance(source, str):
                argv += ['--params-file', source]
            else:
                for key, value in source.items():
                    argv += ['-p', f'{key}:={_param_literal(value)}']
        for src, dst in self.remappings:
            argv += ['-r', f'{src}:={dst}']
        return argv


def _absolute(namespace: str) -> str:
    return namespace if namespace.startswith('/') else '/' + namespace


def _param_literal(value: Any) -> str:
    """Render a parameter value as the YAML literal ``-p name:=value`` expects."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_param_literal(v) for v in value) + ']'
    return repr(value)
