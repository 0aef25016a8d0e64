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

"""The side-agreement probe: it changes no command, and its table counts the right ticks."""

import math
from pathlib import Path

from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import open_route_loop
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.side_agreement import side_agreement
from adapter_switcher.demo.side_agreement import SideProbe
from adapter_switcher.demo.side_agreement import SideSample
from adapter_switcher.demo.visuomotor import OFFSET_LIMIT
import pytest
import torch

MODELS = Path(__file__).resolve().parent.parent / 'models' / 'demo' / 'visuomotor'


def test_the_table_counts_only_side_decisions_by_time_and_place():
    samples = [SideSample(1, 0.1, 1.0, 0.8, 0.6),      # near a turn, first answer, agrees
               SideSample(1, 0.2, 1.0, 0.8, -0.1),     # near, first answer, wrong side
               SideSample(2, 0.1, 9.0, -0.8, -0.2),    # far, agrees but not firmly
               SideSample(2, 0.5, 9.0, -0.8, 0.7),     # far, later, wrong side
               SideSample(2, 0.1, 9.0, 0.1, -0.8)]     # the teacher picks no side: not counted
    rows = {(tuple(r['since_switch_s']), r['near_turn']): r for r in side_agreement(
        samples, corner_m=2.5, since_bins_s=(0.0, 0.3, math.inf), side_offset_m=0.4)}
    assert rows[(0.0, 0.3), True] == {'since_switch_s': [0.0, 0.3], 'near_turn': True,
                                      'ticks': 2, 'episodes': 1, 'agree': 0.5,
                                      'agree_firmly': 0.5}
    assert rows[(0.0, 0.3), False]['ticks'] == 1
    assert rows[(0.0, 0.3), False]['agree'] == 1.0
    assert rows[(0.0, 0.3), False]['agree_firmly'] == 0.0
    assert rows[(0.3, None), False]['agree'] == 0.0
    assert rows[(0.3, None), True] == {'since_switch_s': [0.3, None], 'near_turn': True,
                                       'ticks': 0, 'episodes': 0, 'agree': None,
                                       'agree_firmly': None}


@pytest.mark.sim
def test_the_probe_records_every_hazard_tick_and_changes_no_command():
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    hazard_ticks = []

    def counting(tick):
        if tick.decision.desired == 'hazard':
            hazard_ticks.append(tick.time)
        return expert_driver()(tick)

    probe = SideProbe(counting, MODELS, loop.rules)
    try:
        alone = loop.run(20003, expert_driver(), time_limit_s=60.0, situation=True)
        probe.start(20003)
        probed = loop.run(20003, probe, time_limit_s=60.0, situation=True)
    finally:
        probe.close()
        loop.sim.close()
    assert probed == alone
    assert hazard_ticks and len(probe.samples) == len(hazard_ticks)
    assert probe.samples[0].since_switch_s == 0.0
    assert [s.since_switch_s for s in probe.samples] == sorted(s.since_switch_s
                                                               for s in probe.samples)
    assert all(s.seed == 20003 and abs(s.teacher) <= OFFSET_LIMIT and
               abs(s.adapter) <= OFFSET_LIMIT for s in probe.samples)
