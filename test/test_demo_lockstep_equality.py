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
The demo over DDS in lock-step equals the ROS-free closed loop, seed for seed.

Five episodes through the real nodes (simulator, context manager, inference node as processes)
and the same five seeds through :class:`DemoLoop` driven by the shipped demo models through the
engine, as training evaluates them. Whatever policy and scenario the demo ships, each outcome
must be the same and the robot must end within 5 cm of the same place. Nothing here depends on
wall-clock time: lock-step makes the DDS run independent of the machine's load.
"""

import math

from adapter_switcher.demo.closed_loop import open_demo_loop
from adapter_switcher.demo.run_demo import run_demo_episodes
from adapter_switcher.demo.training import LearnedDriver
from adapter_switcher.paths import share_path

from dds_harness import node_env
import pytest
import torch

DOMAIN_ID = 82
SEEDS = [7, 8, 9, 10, 11]


def _outcome(result):
    return (result.success, result.reached_goal, result.collisions > 0,
            result.spill_entries > 0)


@pytest.mark.dds
@pytest.mark.sim
def test_lockstep_demo_over_dds_equals_the_ros_free_closed_loop(tmp_path, monkeypatch):
    for name, value in node_env(DOMAIN_ID).items():
        monkeypatch.setenv(name, value)
    with open(tmp_path / 'nodes.log', 'w') as log:
        run = run_demo_episodes(SEEDS, log)
    assert run.lockstep and [e.seed for e in run.episodes] == SEEDS

    torch.set_num_threads(1)
    loop = open_demo_loop()
    driver = LearnedDriver(share_path('models/demo'), loop.rules)
    try:
        offline = [loop.run(seed, driver) for seed in SEEDS]
    finally:
        driver.close()
        loop.sim.close()

    for over_dds, reference in zip(run.episodes, offline):
        assert _outcome(over_dds) == _outcome(reference), (over_dds, reference)
        assert math.dist(over_dds.final_pose, reference.final_pose) < 0.05, (over_dds, reference)
        # Episode timing is sim time from message stamps: the same number of control ticks.
        assert over_dds.sim_time == pytest.approx(reference.sim_time, abs=0.051)
