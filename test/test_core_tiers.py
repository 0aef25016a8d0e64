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
The cache tiers: host RAM under a byte budget, K resident slots, LRU eviction with pinning.

The active adapter and any adapter in use are never evicted; listing shows each adapter's tier;
metrics count hits, misses and bytes per tier.
"""

import copy
import subprocess
import sys
import threading

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import SlotsBusy
from adapter_switcher.core.host_cache import HostCache
from adapter_switcher.core.load_worker import LoadJob
from adapter_switcher.core.load_worker import LoadWorker
from adapter_switcher.core.prefetch import Prefetcher
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
import torch

LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_fc']}


@pytest.fixture()
def engine(tmp_path):
    base = tiny_base()
    for i, name in enumerate('abcd'):
        write_adapter(base, tmp_path / name, seed=i, **LORA)
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    yield engine
    engine.close()


def _tiers(engine):
    return {a.name: a.tier for a in engine.adapters()}


def test_host_cache_evicts_lru_and_respects_pins():
    one = {'m': (torch.zeros(10, 10), torch.zeros(10, 10))}  # 800 bytes
    cache = HostCache(budget_bytes=2000)
    assert cache.put('a', one) and cache.put('b', one)
    assert cache.pin('a') is not None          # a is now most recent, and pinned
    assert cache.put('c', one)                 # evicts b, the LRU unpinned entry
    assert cache.names() == ['a', 'c'] and cache.nbytes() == 1600
    big = {'m': (torch.zeros(30, 30), torch.zeros(30, 30))}
    assert not cache.put('big', big), 'an entry larger than the budget is not cached'
    assert cache.pin('b') is None and cache.misses == 1
    cache.unpin('a')
    assert cache.put('d', one) and cache.names() == ['c', 'd']
    with pytest.raises(ValueError, match='>= 0 bytes'):
        HostCache(-1)


def test_lru_eviction_never_touches_the_active_adapter(engine):
    engine.activate('a')
    engine.activate('b')
    assert _tiers(engine) == {'a': 'resident', 'b': 'active', 'c': 'disk', 'd': 'disk'}
    engine.activate('c')                       # two slots: evicts a (LRU, not active)
    assert _tiers(engine) == {'a': 'disk', 'b': 'resident', 'c': 'active', 'd': 'disk'}


def test_pinned_and_active_slots_are_never_evicted(engine):
    engine.activate('a')
    index = engine.load_to_slot('b', pin=True)
    with pytest.raises(SlotsBusy, match="no slot free for adapter 'c'"):
        engine.load_to_slot('c')
    assert engine.active == 'a' and _tiers(engine)['b'] == 'resident'
    engine._unpin(index)
    engine.load_to_slot('c')
    assert _tiers(engine) == {'a': 'active', 'b': 'disk', 'c': 'resident', 'd': 'disk'}


def test_host_tier_feeds_slot_loads(engine):
    assert engine.load_to_host('c')
    assert _tiers(engine)['c'] == 'host'
    engine.activate('c')
    metrics = engine.metrics_dict()
    assert metrics['host_hits'] == 1 and metrics['bytes_host'] > 0
    assert metrics['bytes_disk'] > metrics['bytes_host']
    assert metrics['bytes_resident'] > 0 and metrics['swaps'] == 1


def test_prefetch_makes_the_next_request_a_hit(engine):
    engine.activate('a')
    prefetcher = Prefetcher(engine)
    prefetcher.retarget([('b', 0.9), ('c', 0.3)])
    assert engine.worker.wait_idle(30)
    assert _tiers(engine) == {'a': 'active', 'b': 'resident', 'c': 'host', 'd': 'disk'}
    assert engine.is_ready('b')
    engine.request('b')
    result = engine.step(torch.randint(0, 256, (1, 8)))
    assert result.adapter == 'b' and result.swap is not None and not result.swap.cold
    metrics = engine.metrics_dict()
    assert metrics['request_hits'] == 1 and metrics['prefetch_hit_rate'] == 1.0
    assert metrics['switch_to_output_hit_count'] == 1


def test_unused_prefetch_is_counted_as_wasted(engine):
    engine.activate('a')
    prefetcher = Prefetcher(engine)
    prefetcher.retarget([('b', 0.9)])
    assert engine.worker.wait_idle(30)
    prefetcher.retarget([('c', 0.9)])          # b was never used: its slot goes to c
    assert engine.worker.wait_idle(30)
    assert engine.metrics_dict()['prefetch_wasted'] == 1
    assert _tiers(engine)['c'] == 'resident'


def test_a_prefetch_never_evicts_the_adapter_a_request_waits_for(engine):
    # Two slots: a runs, b is resident; c is requested and loads over b. A prefetch of b
    # that came before the next tick pushed c out again, and the request waited for good:
    # the follower asks again only when the context changes (a closed-loop episode began on
    # the previous episode's slow_zone adapter and missed its goal).
    engine.activate('a')
    engine.load_to_slot('b')
    engine.request('c')
    assert engine.worker.wait_idle(30) and engine.is_ready('c')
    Prefetcher(engine).retarget([('b', 0.9)])
    assert engine.worker.wait_idle(30)
    assert engine.metrics_dict()['prefetch_failures'] == 1
    with pytest.raises(SlotsBusy, match="adapter 'b': all 2 slots are active, requested"):
        engine.load_to_slot('b', prefetch=True)
    assert engine.step(torch.randint(0, 256, (1, 8))).adapter == 'c'
    assert _tiers(engine) == {'a': 'resident', 'b': 'disk', 'c': 'active', 'd': 'disk'}
    # A demand load supersedes the request instead: an activation may take its slot.
    engine.request('a')
    assert engine.worker.wait_idle(30) and engine.is_ready('a')
    assert engine.activate('b').cold and engine.active == 'b'
    assert engine.step(torch.randint(0, 256, (1, 8))).adapter == 'b'


def test_retarget_drops_jobs_not_yet_started():
    started = threading.Event()
    release = threading.Event()
    done = []

    def run(job):
        if not done:
            started.set()
            release.wait(10)
        done.append(job.name)

    worker = LoadWorker(run)
    worker.retarget([LoadJob(n, True, True, True) for n in ('x', 'y')])
    assert started.wait(10)
    worker.retarget([LoadJob('z', True, True, True)])
    release.set()
    assert worker.wait_idle(10)
    worker.stop()
    assert done == ['x', 'z']


def test_core_never_imports_rclpy():
    code = ('import sys, adapter_switcher.core, adapter_switcher.core.prefetch, '
            'adapter_switcher.core.generation; '
            "bad = [m for m in sys.modules if m.startswith(('rclpy', 'std_msgs'))]; "
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)


class _Wide(torch.nn.Module):
    """Layers whose LoRA tensors exceed torch's grain size, so their copies are split."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(48, 5000)
        self.embed = torch.nn.Embedding(3000, 48)
        self.down = torch.nn.Linear(5000, 4)

    def forward(self, tokens):
        return self.down(torch.relu(self.up(self.embed(tokens).mean(1))))


@pytest.mark.parametrize('via_host', [False, True])
def test_loads_split_into_small_copies_equal_peft(tmp_path, via_host):
    from peft import PeftModel
    torch.manual_seed(0)
    base = _Wide().eval()
    lora = {'r': 12, 'lora_alpha': 24, 'target_modules': ['up', 'embed', 'down']}
    for seed, name in enumerate('ab'):
        write_adapter(base, tmp_path / name, seed=seed, **lora)
    x = torch.randint(0, 3000, (2, 5))
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path],
                           EngineConfig(num_slots=2, max_rank=16, keep_inactive=False),
                           probe_inputs=((x,), {}))
    for name in 'abab':
        if via_host:
            assert engine.load_to_host(name)
        engine.activate(name)
        with torch.inference_mode():
            expected = PeftModel.from_pretrained(copy.deepcopy(base),
                                                 str(tmp_path / name)).eval()(x)
        assert torch.allclose(engine.step(x).output, expected, atol=1e-5)
    engine.close()
