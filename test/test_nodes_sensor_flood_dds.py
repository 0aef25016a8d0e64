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
Malformed sensor messages over DDS: a running inference node drops them and keeps driving.

While valid sensor data flows, a flood of every malformed case (sensor_flood) arrives on the
same topics. The node must stay up, keep publishing commands, and each of those commands must
be exactly what the valid data gives (a dropped message changes nothing); the node counts the
drops on /diagnostics and warns about them throttled, at most once per sensor per
``BAD_MESSAGE_LOG_PERIOD_S``. Everything is count-based: bounded waits, no timing asserted.
"""

import math
import time

from adapter_switcher.context import load_rules
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.reference import ReferencePolicy
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.sensor_inputs import BAD_MESSAGE_LOG_PERIOD_S
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import scene_command
from dds_harness import SyntheticSensors
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import pytest
from sensor_flood import drop_warnings
from sensor_flood import flood_target_spec
from sensor_flood import node_dropped
from sensor_flood import SensorFlood

pytestmark = pytest.mark.dds

DOMAIN_ID = 54
START_TIMEOUT = 120.0
TIMEOUT = 60.0
FLOOD_HZ = 200.0
ROUNDS = 30             # every case sent this many times: ~6 s, over one warning period
COMMANDS_DURING = 20    # commands the node must publish while the flood runs


def _is(msg, want, atol=1e-3):
    return abs(msg.linear.x - want[0]) < atol and abs(msg.angular.z - want[1]) < atol


def test_a_flood_of_malformed_sensor_messages_is_dropped_while_the_robot_keeps_driving(
        tmp_path):
    demo_dir = tmp_path / 'demo'
    make_demo_adapters(demo_dir)
    reference = ReferencePolicy(demo_dir,
                                load_rules(share_path('config/context_rules.yaml')).features)
    want = scene_command(reference, 'navigation', Scene())
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
        flood = SensorFlood(dds.node, FLOOD_HZ)
        assert len(flood.cases) >= 30
        node = dds.start(flood_target_spec(demo_dir, sensor_timeout_s=5.0))
        dds.wait_for(lambda: cmd.count() >= 10 and _is(cmd.last(), want), START_TIMEOUT,
                     "driving on navigation's command")
        cmd.clear()
        started = time.monotonic()
        flood.start()
        try:
            dds.wait_for(lambda: flood.total() >= ROUNDS * len(flood.cases)
                         and cmd.count() >= COMMANDS_DURING, TIMEOUT,
                         f'{ROUNDS} rounds of the flood and {COMMANDS_DURING} commands meanwhile')
        finally:
            flood.stop()
        flooded_s = time.monotonic() - started
        during = cmd.messages()
        assert node.alive()
        wrong = [(m.linear.x, m.angular.z) for m in during if not _is(m, want)]
        assert not wrong, f'{len(wrong)} of {len(during)} commands changed: {wrong[:5]}'

        # The node counted the drops: every sensor's, and no more than were sent.
        dds.wait_for(lambda: all(node_dropped(diagnostics).values()), TIMEOUT,
                     'dropped counts of every sensor on /diagnostics')
        dropped = node_dropped(diagnostics)
        assert all(dropped[s] <= flood.published[s] for s in dropped), (dropped, flood.published)
        # Throttled: at most one warning per sensor per period (+1: the first one).
        periods = math.ceil(flooded_s / BAD_MESSAGE_LOG_PERIOD_S) + 1
        warnings = drop_warnings(node.tail(10 ** 6))
        assert 0 < warnings <= len(dropped) * periods, (warnings, flooded_s)
        assert warnings < sum(dropped.values())
        assert 'Traceback' not in node.tail(10 ** 6)
