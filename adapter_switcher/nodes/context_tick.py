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
Ticks driven by the context manager's evaluations, for lock-step simulation.

With ``tick_source: context`` the inference node does not run its own timer: each
``context_manager/features`` message (published once per evaluation, stamped with the instant
evaluated, carrying the decision) starts one control tick. The tick then uses the decision made
for exactly that instant and answers it with a command stamped the same, which is what a
lock-step simulator waits for. On a timer, the decision would reach the node a variable number
of ticks late, depending on the machine's load.
"""

from typing import NamedTuple, Optional

from adapter_switcher.nodes.diagnostics import status_values

TICK_SOURCES = ('timer', 'context')
FEATURES_TOPIC = 'context_manager/features'
FEATURES_STATUS_SUFFIX = ': features'


class ContextTick(NamedTuple):
    """One context evaluation: when (ROS time, ns) and which adapter it wants."""

    stamp_ns: int
    desired: str


def context_tick(msg) -> Optional[ContextTick]:
    """Read the tick from a features DiagnosticArray; None if it carries no features status."""
    for status in msg.status:
        if status.name.endswith(FEATURES_STATUS_SUFFIX):
            stamp = msg.header.stamp
            return ContextTick(stamp.sec * 10**9 + stamp.nanosec,
                               status_values(status).get('desired', ''))
    return None
