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
Soak and swap storm, short and bounded (bench/reliability.py runs the long versions).

No torn forward (an output that is not exactly the reported adapter's), no deadlock, and no
thread or file descriptor left behind by thousands of swaps through cold loads and evictions.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
from stress import outputs_of
from stress import soak
from stress import storm
import torch

NAMES = [None] + [f'a{i}' for i in range(6)]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('storm')
    for i, name in enumerate(NAMES[1:]):
        write_adapter(base, root / name, seed=50 + i, r=4, lora_alpha=8,
                      target_modules=['c_attn', 'c_fc'])
    x = torch.randint(0, 256, (1, 8))
    return base, root, x


def _engine(site, **config):
    base, root, x = site
    return AdapterEngine(copy.deepcopy(base), [root], EngineConfig(**config),
                         probe_inputs=((x,), {}))


def test_soak_mixes_switches_cold_loads_and_evictions_without_leaks(site):
    engine = _engine(site, num_slots=2, host_cache_bytes=0)
    try:
        x = site[2]
        references = outputs_of(engine, NAMES, x)
        assert len({tuple(r.flatten().tolist()[:8]) for r in references.values()}) == len(NAMES)
        soak(engine, NAMES, x, references, swaps=60, seed=1, sample_every=60)  # warm-up
        report = soak(engine, NAMES, x, references, swaps=240, seed=2, sample_every=60)
        assert report.wrong_outputs == 0
        # 6 adapters in 2 slots: every cold load evicts one; resident switches happen too.
        assert 0 < report.cold_loads < report.swaps
        first, last = report.samples[0], report.samples[-1]
        assert (last['threads'], last['fds']) == (first['threads'], first['fds'])
    finally:
        engine.close()


def test_storm_of_requests_never_tears_a_forward_or_deadlocks(site):
    engine = _engine(site, num_slots=3, host_cache_bytes=64 << 20)
    try:
        x = site[2]
        references = outputs_of(engine, NAMES, x)
        report = storm(engine, NAMES, x, references, seconds=2.0, threads=4,
                       request_hz=1000.0, tick_hz=100.0, join_timeout_s=60.0)
        assert report.deadlocks == 0
        assert report.torn == 0, report.errors[:5]
        assert report.ticks > 0 and report.requests > report.ticks
    finally:
        engine.close()
