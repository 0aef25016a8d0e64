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

from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import open_route_loop
from adapter_switcher.demo.closed_loop import ROUTE_TIME_LIMIT_S
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
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
