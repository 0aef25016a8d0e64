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
The demo adapters: trained on the simulator's experts, and worth switching to.

In the ROS-free closed loop (the ROS graph's timing, no transport) the shipped models, switched
by the context policy, must get through the spill episodes; the navigation adapter alone must
drive into the spill. A short training run must write models the engine accepts.
"""

import shutil
from types import SimpleNamespace

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.core import UnknownAdapter
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import open_demo_loop
from adapter_switcher.demo.training import adapter_rows
from adapter_switcher.demo.training import FACTORY
from adapter_switcher.demo.training import LearnedDriver
from adapter_switcher.demo.training import train_demo
from adapter_switcher.paths import share_path
import pytest
from safetensors.torch import load_file
import torch

SEEDS = range(1000, 1010)


@pytest.fixture(scope='module')
def loop():
    torch.set_num_threads(1)
    loop = open_demo_loop()
    yield loop
    loop.sim.close()


def test_experts_switched_by_the_context_policy_avoid_the_spill(loop):
    ticks = []
    for seed in (0, 1):
        result = loop.run(seed, expert_driver(), record=ticks)
        assert result.success, result
        assert [name for _, name, _ in result.switches] == ['navigation', 'hazard', 'navigation']
    hazard_ticks = [t for t in ticks if t.decision.desired == 'hazard']
    assert hazard_ticks and any(t.hazard_label != t.navigation_label for t in hazard_ticks)


def test_shipped_models_need_the_hazard_adapter(loop):
    models = share_path('models/demo')
    switching = LearnedDriver(models, loop.rules)
    results = [loop.run(seed, switching) for seed in SEEDS]
    switching.close()
    alone = LearnedDriver(models, loop.rules, fixed='navigation')
    without = [loop.run(seed, alone) for seed in SEEDS]
    alone.close()
    assert all(r.reached_goal and not r.collisions for r in results)
    assert sum(r.success for r in results) >= 7
    assert sum(r.spill_entries > 0 for r in without) >= 8


def test_shipped_models_match_their_base(tmp_path):
    models = share_path('models/demo')
    base = load_base_model(BaseModelSpec(factory=FACTORY, weights=str(models / BASE_WEIGHTS)))
    engine = AdapterEngine(base, [models / ADAPTERS_SUBDIR], EngineConfig(num_slots=2))
    assert sorted(a.name for a in engine.adapters()) == ['hazard', 'navigation']
    assert engine.rejections() == {}


def test_short_training_writes_models_the_engine_accepts(loop, tmp_path):
    report = train_demo(loop, tmp_path, rounds=1, episodes=2, steps=20,
                        evaluation_seeds=[1000])
    assert [index for index, _ in report.rounds] == [0, 1]
    assert len(report.evaluation) == len(report.navigation_only) == 1
    base = load_base_model(BaseModelSpec(factory=FACTORY, weights=str(tmp_path / BASE_WEIGHTS)))
    engine = AdapterEngine(base, [tmp_path / ADAPTERS_SUBDIR], EngineConfig(num_slots=2))
    assert sorted(a.name for a in engine.adapters()) == ['hazard', 'navigation']


def test_initial_models_drive_the_first_learned_round(loop, tmp_path):
    models = share_path('models/demo')
    report = train_demo(loop, tmp_path, rounds=1, episodes=2, steps=20,
                        evaluation_seeds=[1000], initial=models)
    driver = LearnedDriver(models, loop.rules)
    alone = sum(loop.run(seed, driver).success for seed in (2, 3))  # round 1's seeds
    driver.close()
    assert report.rounds[1] == (1, alone)
    with pytest.raises(ValueError, match='at least one DAgger round'):
        train_demo(loop, tmp_path, rounds=0, initial=models)


def test_initial_models_the_engine_cannot_drive_fail_before_anything_is_recorded(loop,
                                                                                 tmp_path):
    initial = tmp_path / 'initial'
    initial.mkdir()
    shutil.copyfile(share_path('models/demo') / BASE_WEIGHTS, initial / BASE_WEIGHTS)
    out = tmp_path / 'out'
    start = loop.sim.time_ns
    with pytest.raises(UnknownAdapter, match="unknown adapter 'navigation'"):
        train_demo(loop, out, rounds=1, episodes=2, steps=20, initial=initial)
    assert loop.sim.time_ns == start and not out.exists()


def test_a_kept_base_trains_only_the_named_adapters(loop, tmp_path):
    models = share_path('models/demo')
    train_demo(loop, tmp_path, rounds=0, episodes=2, steps=20, evaluation_seeds=[1000],
               base=models, fitted=['hazard'], off_situation=0.5)
    kept, written = load_file(models / BASE_WEIGHTS), load_file(tmp_path / BASE_WEIGHTS)
    assert kept.keys() == written.keys()
    assert all(torch.equal(kept[key], written[key]) for key in kept)
    weights = f'{ADAPTERS_SUBDIR}/{{}}/adapter_model.safetensors'
    navigation, hazard = weights.format('navigation'), weights.format('hazard')
    assert (tmp_path / navigation).read_bytes() == (models / navigation).read_bytes()
    assert (tmp_path / hazard).read_bytes() != (models / hazard).read_bytes()
    base = load_base_model(BaseModelSpec(factory=FACTORY, weights=str(tmp_path / BASE_WEIGHTS)))
    engine = AdapterEngine(base, [tmp_path / ADAPTERS_SUBDIR], EngineConfig(num_slots=2))
    assert sorted(a.name for a in engine.adapters()) == ['hazard', 'navigation']
    assert engine.rejections() == {}
    with pytest.raises(ValueError, match='a new base needs every adapter fitted on it'):
        train_demo(loop, tmp_path / 'new', rounds=0, fitted=['hazard'])
    assert not (tmp_path / 'new').exists()


def _ticks(situations):
    return [SimpleNamespace(decision=SimpleNamespace(desired=desired), engaged=frozenset(engaged))
            for desired, engaged in situations]


def test_an_adapter_learns_its_situation_and_a_drawn_share_of_the_other_ticks():
    ticks = _ticks([('navigation', ())] * 3 + [('hazard', ()), ('navigation', ['hazard'])]
                   + [('navigation', ())] * 5 + [('hazard', ())])
    own = [3, 4, 10]
    assert adapter_rows(ticks, 'hazard') == own
    rows = adapter_rows(ticks, 'hazard', 1.0, torch.Generator().manual_seed(0))
    assert rows[:3] == own and len(set(rows)) == len(rows) == 6
    assert rows == adapter_rows(ticks, 'hazard', 1.0, torch.Generator().manual_seed(0))
    draws = {tuple(adapter_rows(ticks, 'hazard', 1.0, torch.Generator().manual_seed(seed)))
             for seed in range(5)}
    assert len(draws) > 1
    everything = adapter_rows(ticks, 'hazard', 10.0, torch.Generator().manual_seed(0))
    assert sorted(everything) == list(range(len(ticks)))
    assert adapter_rows(ticks, 'slow_zone', 0.5) == list(range(len(ticks)))  # never wanted
