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
diagnostic_msgs helpers: the nodes report health as the diagnostic_aggregator expects it.

Values travel as KeyValue strings; numbers are formatted here once so every status reads alike.
"""

from typing import Any, Mapping

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
STALE = DiagnosticStatus.STALE


def format_value(value: Any) -> str:
    """Render a value for a KeyValue: floats to 4 significant digits, lists comma-separated."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, (list, tuple)):
        return ','.join(format_value(v) for v in value)
    if value is None:
        return ''
    return str(value)


def make_status(name: str, level: bytes, message: str, values: Mapping[str, Any],
                hardware_id: str = '') -> DiagnosticStatus:
    """Build one DiagnosticStatus with its values in the mapping's order."""
    status = DiagnosticStatus()
    status.level = level
    status.name = name
    status.message = message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=str(k), value=format_value(v)) for k, v in values.items()]
    return status


def make_array(stamp, *statuses: DiagnosticStatus) -> DiagnosticArray:
    """Wrap statuses in a DiagnosticArray stamped with the node clock's time."""
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = list(statuses)
    return array


def status_values(status: DiagnosticStatus) -> dict:
    """Return a status's KeyValues as a dict, for tools and tests that read diagnostics."""
    return {kv.key: kv.value for kv in status.values}
