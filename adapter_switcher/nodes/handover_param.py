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
``handover_ticks`` on both nodes: how a context change is handed over from one adapter to the next.

The context manager decides *which* adapter the situation needs and, with its ``handover_ticks``,
how gently the robot should change to it; the inference node carries the hand-over out
(``engine.request(name, blend_ticks=N)``: N ticks of linearly weighted LoRA outputs from the old
adapter to the new one). The context manager publishes its value on the latched
``handover_ticks`` topic (std_msgs/UInt32, reliable + transient-local, like the selector topics,
so a late-starting inference node gets it); the inference node uses the larger of that and its
own ``handover_ticks``. Both default to 0: switch at once, bit for bit as without hand-over.
"""

from adapter_switcher.nodes.params import ParamSpec

from std_msgs.msg import UInt32

TOPIC = 'handover_ticks'
MAX_TICKS = 10000
MESSAGE = UInt32


def handover_param(what: str) -> ParamSpec:
    """Return the ``handover_ticks`` parameter, described for the node that declares it."""
    return ParamSpec('handover_ticks', 0,
                     f'Blend from the old adapter to a newly desired one over this many ticks '
                     f'(their LoRA outputs weighted linearly) instead of jumping; {what}. '
                     '0: switch at once.', value_range=(0, MAX_TICKS))


def effective_ticks(own: int, from_context: int) -> int:
    """Return the hand-over length the inference node uses: the larger of the two settings."""
    return max(int(own), min(int(from_context), MAX_TICKS))
