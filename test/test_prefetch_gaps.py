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
A prefetch beside a ticking loop writes the whole slot in slices released in the idle gaps.

A loop on its own thread ticks a GPT-2 whose forward is padded to TICK seconds (a sleep: no
CPU) and records every tick's start and the end of its forward. The prefetched adapter is small
(rank 2, attention only) and lands in a slot that held a full-rank adapter on every layer, so
most of the load is zeroing: the padding beyond its rank and the layers it does not target. The
test checks that planning the copies, copying and zeroing all went through slices, none
released inside a tick or within SETTLE of its end (the caller still handles the output then),
that the slices wrote every byte of the slot, and that the adapter then computes exactly what
a foreground load of it computes; with one intra-op thread (whole copies) and with two (copies
cut to torch's grain, so none is spread over the threads).
"""

import copy
import itertools
import threading
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.prefetch import Prefetcher
from gap_recording import RecordingEngine
from lora_fixtures import ALL
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
import torch

PERIOD = 0.05
TICK = 0.012
SETTLE = 0.002      # the clock's promise: nothing starts within 2 ms of a tick's end
CONFIG = EngineConfig(num_slots=2, max_rank=16, host_cache_bytes=0)


@pytest.fixture(params=[1, 2], ids=['1-thread', '2-threads'])
def intra_op_threads(request):
    """Run with one intra-op thread (copies whole) and with two (copies cut to torch's grain)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def test_a_prefetch_writes_the_whole_slot_in_the_gaps(tmp_path, intra_op_threads):
    base = tiny_base()
    write_adapter(base, tmp_path / 'full', seed=1, r=16, lora_alpha=16, target_modules=ALL)
    write_adapter(base, tmp_path / 'other', seed=2, r=8, lora_alpha=16, target_modules=ALL)
    write_adapter(base, tmp_path / 'small', seed=3, r=2, lora_alpha=4,
                  target_modules=['c_attn'])
    x = torch.randint(0, 256, (1, 8))
    engine = RecordingEngine(copy.deepcopy(base), [tmp_path], CONFIG, probe_inputs=((x,), {}))
    engine.activate('full')
    engine.activate('other')       # 'full' stays resident, idle: the slot the prefetch takes
    ticks, stop = [], threading.Event()

    def slow_forward(model, adapter):
        time.sleep(TICK)
        output = model(x)
        ticks[-1][1] = time.perf_counter()
        return output

    def loop():
        start = time.perf_counter()
        for index in itertools.count():
            if stop.wait(max(0.0, start + index * PERIOD - time.perf_counter())):
                return
            ticks.append([time.perf_counter(), float('inf')])
            engine.run(slow_forward)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(5 * PERIOD)
        engine.slices.clear()
        Prefetcher(engine).retarget([('small', 1.0)])
        assert engine.worker.wait_idle(30.0)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert engine.is_ready('small') and 'full' not in engine.metrics_dict()['resident']
    # Up to SETTLE after the forward, not after run() returned: the OS may hold the tick
    # thread up after the clock saw the tick end, and the clock only promises the SETTLE.
    inside = [(kind, t) for kind, _, t in engine.slices for began, ended in ticks
              if began <= t <= ended + SETTLE]
    assert not inside, f'{len(inside)} slices released during a tick: {inside[:5]}'
    assert {kind for kind, _, _ in engine.slices} == {'plan', 'copy'}
    slot_bytes = engine.metrics_dict()['bytes_resident'] // CONFIG.num_slots
    assert sum(amount for kind, amount, _ in engine.slices if kind == 'copy') == slot_bytes, \
        'every byte of the slot (copies, padding, layers not targeted) went through a slice'
    engine.activate('small')
    reference = AdapterEngine(copy.deepcopy(base), [tmp_path], CONFIG, probe_inputs=((x,), {}))
    reference.activate('small')
    assert torch.equal(engine.step(x).output.logits, reference.step(x).output.logits)
    engine.close()
    reference.close()
