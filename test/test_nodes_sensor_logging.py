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
The inference node's sensor messages at start-up: calm first, an error only if they never come.

The node runs alone, with no sensor at all. During its start-up grace it says it is waiting
(INFO), with no ERROR; once the grace is over and still nothing came, it reports the timeout as
an ERROR, once.
"""

from adapter_switcher.bringup.robot_nodes import robot_node_specs

from dds_harness import DdsHarness
import pytest

DOMAIN_ID = 85


@pytest.mark.dds
def test_missing_sensors_are_info_during_start_up_then_one_error(tmp_path):
    with DdsHarness(DOMAIN_ID, tmp_path, node_name='sensor_logging_test') as dds:
        node = dds.start(robot_node_specs()[1])
        waiting = 'waiting for the first message of: camera, odom, scan'
        dds.wait_for(lambda: waiting in node.tail(), 180, 'the start-up INFO line')
        early = node.tail()
        assert '[INFO]' in early.split('waiting for the first message of')[0].splitlines()[-1]
        assert 'sensor timeout' not in early and '[ERROR]' not in early
        dds.wait_for(lambda: 'sensor timeout: camera never received, odom never received, '
                     'scan never received' in node.tail(), 120, 'the ERROR after the grace')
        assert node.tail().count('sensor timeout:') == 1
