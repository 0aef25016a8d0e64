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
Swaps from other threads never reach a forward half-done, and the latest request wins.

Every forward's output must equal exactly one adapter's stock-PEFT output, the one the step
reports; a switch asked for in the middle of a forward waits for it to finish.
"""

import copy
import random
import threading
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from lora_fixtures import peft_reference
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
import torch

NAMES = ('a', 'b', 'c', 'd')
TOLERANCE = 1e-5


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('adapters')
    x = torch.randint(0, 256, (1, 12))
    references = {None: base(x).logits.detach()}
    for i, name in enumerate(NAMES):
        directory = write_adapter(base, root / name, seed=i, r=4 + i, lora_alpha=8,
                                  target_modules=['c_attn', 'c_proj', 'c_fc'])
        with torch.no_grad():
            references[name] = peft_reference(base, directory)(x).logits
    return base, root, x, references


def _engine(setup, slots=3):
    base, root, x, _ = setup
    return AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=slots),
                         probe_inputs=((x,), {}))


def _matching(references, output):
    return [n for n, ref in references.items() if (output - ref).abs().max() <= TOLERANCE]


def test_swaps_from_another_thread_during_forwards(setup):
    _, _, x, references = setup
    engine = _engine(setup)
    stop = threading.Event()
    errors = []

    def swapper():
        rng = random.Random(3)
        while not stop.is_set():
            name = rng.choice(NAMES)
            try:
                engine.activate(name) if rng.random() < 0.5 else engine.request(name)
            except Exception as error:  # noqa: B902 - collected and asserted below
                errors.append(error)

    thread = threading.Thread(target=swapper)
    thread.start()
    results = []
    try:
        for _ in range(300):
            result = engine.step(x)
            results.append((result.adapter, result.output.logits.clone()))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert len({adapter for adapter, _ in results}) >= 3, 'swaps should have happened'
    for adapter, output in results:
        assert _matching(references, output) == [adapter]


def test_switch_waits_for_the_running_forward(setup):
    _, _, x, references = setup
    engine = _engine(setup)
    engine.activate('a')
    engine.activate('b')
    engine.activate('a')
    inside = threading.Event()
    timeline = {}

    def slow_block(module, args, output):
        if not inside.is_set():
            inside.set()
            time.sleep(0.2)
        return output

    def forward_ends(module, args, output):
        # Timed inside the forward, under the forward lock: a timestamp taken after step()
        # returned could come after the switch that waited for that lock.
        timeline['forward_done'] = time.perf_counter()
        return output

    hook = engine.model.transformer.h[0].register_forward_hook(slow_block)
    end_hook = engine.model.register_forward_hook(forward_ends)

    def switch():
        assert inside.wait(10)
        engine.activate('b')
        timeline['switched'] = time.perf_counter()

    thread = threading.Thread(target=switch)
    thread.start()
    try:
        result = engine.step(x)
    finally:
        thread.join(timeout=10)
        hook.remove()
        end_hook.remove()
    assert result.adapter == 'a' and _matching(references, result.output.logits) == ['a']
    assert timeline['switched'] >= timeline['forward_done']
    assert _matching(references, engine.step(x).output.logits) == ['b']


def test_latest_request_wins(setup):
    _, _, x, references = setup
    engine = _engine(setup, slots=4)
    for name in NAMES:
        engine.activate(name)
    engine.activate('a')
    engine.request('b')
    engine.request('c')
    engine.request('d')
    result = engine.step(x)
    assert result.adapter == 'd' and result.swap.previous == 'a'
    assert _matching(references, result.output.logits) == ['d']
    assert engine.step(x).swap is None


def test_latest_request_wins_while_loading(setup):
    _, _, x, references = setup
    engine = _engine(setup, slots=2)
    engine.activate('a')
    for name in ('b', 'c', 'd'):
        engine.request(name)
    assert engine.pending() == 'd'
    adapters = []
    deadline = time.monotonic() + 30
    while engine.active != 'd' and time.monotonic() < deadline:
        result = engine.step(x)
        adapters.append(result.adapter)
        assert _matching(references, result.output.logits) == [result.adapter]
    assert engine.active == 'd'
    assert set(adapters) <= {'a', 'd'}, 'superseded requests must never become active'


def test_rollback_goes_back_through_history(setup):
    engine = _engine(setup)
    for name in ('a', 'b', 'c'):
        engine.activate(name)
    assert engine.rollback().active == 'b'
    assert engine.rollback().active == 'a'
    assert engine.rollback().active is None
