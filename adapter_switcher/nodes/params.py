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
Parameter tables: each node lists its parameters once, with default, description and range.

The same table declares the parameters (with a ParameterDescriptor each), documents them, and lets
a test check that config/adapter_switcher.yaml lists every one of them.
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Tuple

from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor


@dataclass(frozen=True)
class ParamSpec:
    """
    One declared parameter.

    ``value_range`` is ``(min, max)``, inclusive, for an int or float parameter; a read-only
    parameter is fixed at start-up (from the parameter file or the command line).
    """

    name: str
    default: Any
    description: str
    read_only: bool = False
    value_range: Optional[Tuple[float, float]] = None
    constraints: str = ''

    def descriptor(self) -> ParameterDescriptor:
        """Return the ParameterDescriptor ``ros2 param describe`` shows for this parameter."""
        descriptor = ParameterDescriptor(
            name=self.name,
            description=self.description,
            read_only=self.read_only,
            additional_constraints=self.constraints,
        )
        if self.value_range is not None:
            low, high = self.value_range
            if isinstance(self.default, int) and not isinstance(self.default, bool):
                descriptor.integer_range = [
                    IntegerRange(from_value=int(low), to_value=int(high), step=0)]
            else:
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
        return descriptor


def declare_all(node, specs: Iterable[ParamSpec]) -> Dict[str, Any]:
    """Declare every parameter of a table on the node and return their start-up values."""
    specs = list(specs)
    node.declare_parameters('', [(s.name, s.default, s.descriptor()) for s in specs])
    return current_values(node, specs)


def current_values(node, specs: Iterable[ParamSpec]) -> Dict[str, Any]:
    """Return the node's current values of a table's parameters (configure reads them here)."""
    return {s.name: node.get_parameter(s.name).value for s in specs}


def defaults(specs: Iterable[ParamSpec]) -> Dict[str, Any]:
    """Return ``{name: default}`` of a table, in declaration order."""
    return {s.name: s.default for s in specs}
