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
Situation segments in the closed loop: the short routes around a hazard that training adds.

A segment drives the seed's episode from a few metres before one of its spills (or its zone) to
a few metres after; the experts get through it as on the full route, the same seed gives the
same episode, and the loop's full route is untouched for the next episode.
"""

import copy
import dataclasses
import math

from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import expert_offset_driver
from adapter_switcher.demo.closed_loop import open_route_loop
from adapter_switcher.demo.closed_loop import ROUTE_TIME_LIMIT_S
from adapter_switcher.demo.closed_loop import Tick
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.visuomotor import MAX_OFFSET
from adapter_switcher.demo.visuomotor import MAX_SPEED
import pytest
import torch


@pytest.fixture(scope='module')
def loop():
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    yield loop
    loop.sim.close()


@pytest.mark.sim
def test_experts_get_through_situation_segments_the_same_way_every_time(loop):
    route = loop.sim.scenario
    met = set()
    for seed in (20000, 20003, 20007):
        result = loop.run(seed, expert_driver(), time_limit_s=60.0, situation=True)
        assert result.success and result.sim_time < 45.0, result
        met.update(name for _, name, _ in result.switches)
        assert loop.run(seed, expert_driver(), time_limit_s=60.0, situation=True) == result
        assert loop.sim.scenario == route
    assert met >= {'navigation', 'hazard', 'slow_zone'}
    whole = loop.run(3, expert_driver(), time_limit_s=ROUTE_TIME_LIMIT_S, encode=False)
    assert whole.reached_goal and whole.sim_time > 60.0


@pytest.mark.sim
def test_the_expert_offsets_are_driven_as_a_learner_that_output_them_would_drive(loop):
    """
    expert_offset_driver is the ceiling of the learned policy: its law, the teachers' targets.

    At every tick of a segment with a spill, its command equals the command of the learned
    policy's own decoding (``VISUOMOTOR.command``) of a raw output that decodes to the rules'
    expert's speed and offset, each from its own copy of the detour memory.
    """
    drive, offsets = expert_offset_driver(), []

    def compare(tick: Tick):
        speed, offset = tick.offsets.get(tick.decision.desired, tick.offsets['navigation'])
        raw = torch.tensor([[math.atanh(speed / MAX_SPEED), math.atanh(offset / MAX_OFFSET)]])
        learned = VISUOMOTOR.command(dataclasses.replace(tick, hold=copy.deepcopy(tick.hold)),
                                     raw)
        command = drive(tick)
        assert command == pytest.approx(learned, abs=1e-6)
        offsets.append(offset)
        return command

    result = loop.run(20005, compare, time_limit_s=120.0, situation=True, encode=False)
    assert result.reached_goal and max(abs(offset) for offset in offsets) > 0.5
