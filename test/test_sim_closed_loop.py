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
Closed loop over DDS: the simulator and an expert driver as separate processes.

The simulator node (real_time_factor 5) and the expert driver (on sim time) talk only through
/scan, /camera/image_raw, /odom and /cmd_vel. The navigation expert completes the route and,
blind to hazards, drives through the spill on it; the expert in ``auto`` mode (the hazard
expert's commands, labelled) completes the same route without ever entering the spill,
switching its label to ``hazard`` while the spill is in view. Each run takes about 20 s of wall
time (about 70 s of sim time).
"""

from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path
from adapter_switcher.sim.launch_nodes import expert_driver_node_spec
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario

from dds_harness import DdsHarness
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from std_msgs.msg import Bool
from std_msgs.msg import String
from std_msgs.msg import UInt32

SEED = 0
REAL_TIME_FACTOR = 5.0
ROUTE_TIMEOUT_S = 50.0  # wall time; the route takes about 80 s of sim time, 16 s at 5x


def _episode_values(diagnostics):
    """Return the simulator's latest episode key-values from /diagnostics."""
    for msg in reversed(diagnostics.messages()):
        for status in msg.status:
            if status.name.startswith('simulator'):
                return {kv.key: kv.value for kv in status.values}
    return None


def _drive_route(tmp_path, domain_id, expert):
    """Run simulator + expert driver until the route is complete; return what was observed."""
    route = load_scenario(share_path(DEFAULT_SCENARIO)).waypoints
    with DdsHarness(domain_id, tmp_path, node_name='closed_loop_test') as dds:
        progress = dds.subscribe(UInt32, '/expert_driver/route_progress', LATCHED_QOS)
        active = dds.subscribe(String, '/expert_driver/active_expert', LATCHED_QOS)
        collision = dds.subscribe(Bool, '/simulator/collision', LATCHED_QOS)
        on_spill = dds.subscribe(Bool, '/simulator/on_spill', LATCHED_QOS)
        odom = dds.subscribe(Odometry, '/odom', 10)
        diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', 10)
        dds.start(expert_driver_node_spec(expert))
        dds.wait_for(lambda: progress.last() is not None, 30, 'the expert driver is up')
        dds.start(simulator_node_spec(seed=SEED, real_time_factor=REAL_TIME_FACTOR))
        dds.wait_for(lambda: progress.last().data == len(route), ROUTE_TIMEOUT_S,
                     f'the route of {len(route)} waypoints completed')
        # The next diagnostics (1 Hz sim time) carry the episode's final counters.
        seen = diagnostics.count()
        dds.wait_for(lambda: diagnostics.count() > seen, 10, 'episode diagnostics')
        return {
            'final_pose': odom.last().pose.pose.position,
            'collision': [m.data for m in collision.messages()],
            'on_spill': [m.data for m in on_spill.messages()],
            'active': [m.data for m in active.messages()],
            'episode': _episode_values(diagnostics),
            'route': route,
        }


@pytest.mark.dds
@pytest.mark.sim
def test_navigation_expert_completes_the_route_over_dds(tmp_path):
    run = _drive_route(tmp_path, 23, 'navigation')
    final = np.array([run['final_pose'].x, run['final_pose'].y])
    assert np.linalg.norm(final - run['route'][-1]) < 0.6
    assert run['collision'] and not any(run['collision'])
    assert run['episode']['collisions'] == '0' and run['episode']['seed'] == str(SEED)
    # Blind to hazards: it drives through the spill on the route.
    assert int(run['episode']['spill_entries']) >= 1
    assert set(run['active']) == {'navigation'}


@pytest.mark.dds
@pytest.mark.sim
def test_hazard_expert_completes_the_route_without_entering_the_spill_over_dds(tmp_path):
    run = _drive_route(tmp_path, 24, 'auto')
    final = np.array([run['final_pose'].x, run['final_pose'].y])
    assert np.linalg.norm(final - run['route'][-1]) < 0.6
    assert run['collision'] and not any(run['collision'])
    assert run['on_spill'] and not any(run['on_spill'])
    assert run['episode']['collisions'] == '0' and run['episode']['spill_entries'] == '0'
    assert run['active'][0] == 'navigation' and 'hazard' in run['active']
