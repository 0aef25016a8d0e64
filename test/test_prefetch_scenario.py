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
Scripted navigation -> hazard -> navigation episodes: prefetch turns swaps into hits.

The context policy runs on the scripted scenario (the spill fraction rises before it crosses
the hazard threshold) and its decisions drive a real engine through DecisionFollower. The
engine runs memory-tight (``keep_inactive=False``: an adapter leaves the slots when it stops
being active), so an adapter can only be resident at swap time if prefetch put it there. Each
tick is followed by the loader's idle time, as between real control ticks.
"""

import copy

from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.scenarios import SpillScenario
from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.follower import DecisionFollower
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.paths import share_path
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
import torch

EPISODES = 12
LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_fc']}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('adapters')
    for i, name in enumerate(('navigation', 'hazard')):
        write_adapter(base, root / name, seed=i, **LORA)
    rules = load_rules(share_path('config/context_rules.yaml'),
                       known_adapters=['navigation', 'hazard'])
    return base, root, rules


def run_scenario(setup, prefetch: bool):
    base, root, rules = setup
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=2, keep_inactive=False),
                           probe_inputs=((x,), {}))
    engine.activate(rules.default)
    policy = ContextPolicy(rules)
    follower = DecisionFollower(engine, Prefetcher(engine) if prefetch else None)
    adapters = []
    try:
        for snapshot in SpillScenario(episodes=EPISODES, rate_hz=20.0).snapshots():
            decision = policy.update(snapshot)
            follower.follow(decision.desired, decision.predicted, decision.confidence)
            adapters.append(engine.step(x).adapter)
            assert engine.worker.wait_idle(30.0)
    finally:
        engine.close()
    return engine.metrics_dict(), adapters


def _switches(adapters):
    return sum(1 for a, b in zip(adapters, adapters[1:]) if a != b)


def test_prefetch_makes_at_least_95_percent_of_swaps_hits(setup):
    metrics, adapters = run_scenario(setup, prefetch=True)
    assert _switches(adapters) == 2 * EPISODES
    swaps = metrics['request_hits'] + metrics['request_misses']
    assert swaps == 2 * EPISODES
    assert metrics['request_hits'] / swaps >= 0.95, metrics
    assert metrics['switch_to_output_hit_count'] == metrics['request_hits']


def test_without_prefetch_no_swap_is_a_hit(setup):
    metrics, adapters = run_scenario(setup, prefetch=False)
    assert _switches(adapters) == 2 * EPISODES
    assert metrics['request_hits'] == 0
    assert metrics['request_misses'] == 2 * EPISODES
