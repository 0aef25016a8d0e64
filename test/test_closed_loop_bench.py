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
What makes the closed-loop benchmark affordable leaves its episodes as they were.

Min-pooling the lidar in one call equals pooling each sector of ``np.array_split``; an episode
run without the labels or the observations no driver reads is the same episode; and
``bench/closed_loop.py --workers 2`` gives the results of one worker.
"""

import importlib.util
import json
import math
import subprocess
import sys

from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import open_demo_loop
from adapter_switcher.demo.closed_loop import ROUTE_RULES
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.visuomotor import LIDAR_BEAMS
from adapter_switcher.demo.visuomotor import pooled_ranges
from adapter_switcher.paths import share_path
import numpy as np
import pytest
import torch

TIMING_KEYS = ('switch_to_output_ms_p50', 'switch_to_output_ms_p99')


def sector_minima(ranges, range_max):
    """Return the definition: the minimum of each array_split sector, NaN ignored, else 1."""
    scaled = np.clip(np.asarray(ranges, dtype=np.float64) / range_max, 0.0, 1.0)
    pooled = np.ones(LIDAR_BEAMS, dtype=np.float32)
    for index, sector in enumerate(np.array_split(scaled, LIDAR_BEAMS)):
        valid = sector[~np.isnan(sector)]
        if valid.size:
            pooled[index] = valid.min()
    return pooled


@pytest.mark.parametrize('beams', [1, 7, 89, 90, 91, 360, 361, 1081])
def test_pooled_ranges_are_the_minima_of_array_split_sectors(beams):
    rng = np.random.default_rng(beams)
    for _ in range(10):
        ranges = rng.uniform(-1.0, 14.0, beams)
        for value, share in ((math.nan, 0.2), (math.inf, 0.1), (-math.inf, 0.05)):
            ranges[rng.random(beams) < share] = value
        np.testing.assert_array_equal(pooled_ranges(ranges, 12.0), sector_minima(ranges, 12.0))
    np.testing.assert_array_equal(pooled_ranges(np.full(beams, math.nan), 12.0),
                                  np.ones(LIDAR_BEAMS, dtype=np.float32))


@pytest.fixture(scope='module')
def loop():
    torch.set_num_threads(1)
    loop = open_demo_loop(scenario='config/demo_scenario.yaml', rules=ROUTE_RULES,
                          encoder=VISUOMOTOR.encoder)
    yield loop
    loop.sim.close()


@pytest.mark.sim
def test_episodes_skip_what_no_driver_reads_and_stay_the_same(loop):
    seed = 1003
    full, bare = [], []
    switched = loop.run(seed, expert_driver(), record=full)
    assert {name for _, name, _ in switched.switches} >= {'navigation', 'hazard'}
    assert loop.run(seed, expert_driver(), record=bare, encode=False) == switched
    assert [t.labels for t in bare] == [t.labels for t in full]
    assert all(t.observation is None for t in bare)
    assert all(t.target('hazard') == t.teaching['hazard'] and
               t.target('navigation') == t.labels['navigation'] for t in full)

    def navigate(tick):  # reads the observation and the navigation label only
        assert tick.observation.shape == (1, VISUOMOTOR.obs_dim)
        return tick.labels['navigation']
    full, bare = [], []
    labelled = loop.run(seed, navigate, record=full)
    assert loop.run(seed, navigate, record=bare, label=False) == labelled
    assert all(set(t.labels) == {'navigation'} and not t.teaching for t in bare)
    assert all(torch.equal(a.observation, b.observation) for a, b in zip(full, bare))


@pytest.mark.sim
def test_ticks_carry_each_experts_speed_and_offset_and_where_the_hazard_expert_acts(loop):
    ticks = []
    loop.run(1003, expert_driver(), record=ticks)
    assert all(set(t.offsets) == {'navigation', 'hazard', 'slow_zone'} for t in ticks)
    assert all(t.offsets['navigation'] == (t.labels['navigation'][0], 0.0) and
               t.offsets['slow_zone'] == (t.labels['slow_zone'][0], 0.0) for t in ticks)
    # The hazard expert's offset is its planned detour's, at the learner's look-ahead: zero
    # on the open aisle, a metre's fraction to one side while the spill is passed.
    detour = [t.offsets['hazard'][1] for t in ticks if abs(t.offsets['hazard'][1]) > 0.3]
    assert detour and (all(d > 0 for d in detour) or all(d < 0 for d in detour))
    assert all(t.offsets['hazard'][0] == t.teaching['hazard'][0] for t in ticks)
    # It acts on the spill from the first sighting, before the rules switch to it.
    engaged = [t for t in ticks if 'hazard' in t.engaged]
    assert any(t.decision.desired == 'navigation' for t in engaged)
    assert any(t.decision.desired == 'hazard' for t in engaged)
    assert all(t.route is not None and t.pose[:2] != (0.0, 0.0) for t in ticks)


def _bench():
    spec = importlib.util.spec_from_file_location('closed_loop_bench',
                                                  share_path('bench/closed_loop.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.sim
def test_bench_results_do_not_depend_on_the_worker_count(tmp_path):
    reports = []
    for workers in (1, 2):  # as a user runs it: worker processes import the script itself
        output = tmp_path / f'workers{workers}.json'
        subprocess.run([sys.executable, str(share_path('bench/closed_loop.py')), '--episodes',
                        '2', '--first-seed', '100003', '--block', '1', '--workers',
                        str(workers), '--output', str(output), '--configurations',
                        'expert_switched', 'switched'], check=True, timeout=1200)
        reports.append(json.loads(output.read_text()))
    for name in ('expert_switched', 'switched'):
        one, two = ({k: v for k, v in r[name].items() if k not in TIMING_KEYS} for r in reports)
        assert one == two and one['episodes'] == 2
    assert reports[1]['workers'] == 2


def test_bench_refuses_a_models_directory_without_a_base(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _bench().main(['--models', str(tmp_path), '--output', str(tmp_path / 'out.json')])
    assert 'no base_policy.safetensors' in capsys.readouterr().err
    assert not (tmp_path / 'out.json').exists()
