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
``step_batch``: one forward, each row with its own adapter, equal to PEFT's mixed batch.

The reference is PEFT's own mixed-batch forward, ``model(x, adapter_names=[...])`` with every
adapter loaded into one ``PeftModel`` (``'__base__'`` for base rows). Batches mix random
adapters and base rows on GPT-2 (Conv1D), a Llama (Linear and Embedding) and a CNN (Conv2d,
grouped Conv2d, Conv1d, Linear), with the base matmuls on sgemm and on oneDNN's packed weights
(``packed_base``). Refusals leave the active adapter and its output unchanged.
"""

import copy
import random

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import MixedBatchError
from adapter_switcher.core import UnknownAdapter
from lora_fixtures import max_diff
from lora_fixtures import peft_with_all
from lora_fixtures import tiny_base
from lora_fixtures import write_adapters
from model_zoo import ZOO
import pytest
import torch

TOLERANCE = 1e-5
BASE = '__base__'


def gpt2_input(rows):
    return torch.randint(0, 256, (rows, 10))


CASES = {
    'gpt2': (tiny_base, None, gpt2_input),
    'llama': (ZOO['llama'].build, ZOO['llama'].adapters,
              lambda rows: torch.randint(0, 128, (rows, 9))),
    'cnn': (ZOO['cnn'].build, ZOO['cnn'].adapters, lambda rows: torch.randn(rows, 3, 16, 16)),
}


@pytest.fixture(scope='module', params=sorted(CASES))
def world(request, tmp_path_factory):
    build, configs, make_input = CASES[request.param]
    base = build()
    root = tmp_path_factory.mktemp(request.param)
    dirs = write_adapters(base, root, configs)
    return base, root, dirs, make_input


@pytest.mark.parametrize('packed_base', [False, True], ids=['sgemm', 'packed_base'])
def test_random_mixed_batches_match_peft_adapter_names(world, packed_base):
    base, root, dirs, make_input = world
    names = sorted(dirs)
    peft_model = peft_with_all(base, dirs)
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=len(names), max_rank=16,
                                        packed_base=packed_base),
                           probe_inputs=((make_input(1),), {}))
    rng = random.Random(5)
    torch.manual_seed(5)
    for trial in range(8):
        rows = rng.randint(2, 9)
        adapters = [rng.choice(names + [None]) for _ in range(rows)]
        x = make_input(rows)
        result = engine.step_batch(x, adapters=adapters)
        with torch.no_grad():
            expected = peft_model(x, adapter_names=[a or BASE for a in adapters])
        diff = max_diff(result.output, expected)
        assert diff <= TOLERANCE, f'{adapters}: max abs diff {diff} vs PEFT'
        assert result.adapters == adapters and engine.active is None
    assert engine.metrics_dict()['batch_steps'] == 8


def test_single_adapter_batch_is_bit_identical_to_step(world):
    base, root, dirs, make_input = world
    name = sorted(dirs)[0]
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2),
                           probe_inputs=((make_input(1),), {}))
    x = make_input(3)
    batch = engine.step_batch(x, adapters=[name] * 3)
    assert batch.loaded == [name]
    engine.activate(name)
    single = engine.step(x)
    assert max_diff(batch.output, single.output) == 0.0


def test_refusals_leave_the_active_adapter_running(world):
    base, root, dirs, make_input = world
    names = sorted(dirs)
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=3),
                           probe_inputs=((make_input(1),), {}))
    engine.activate(names[0])
    x = make_input(4)
    before = engine.step(x).output
    with pytest.raises(MixedBatchError, match='names 3 distinct adapters but only 2 slots'):
        engine.step_batch(x[:3], adapters=names[1:4])
    with pytest.raises(UnknownAdapter, match="unknown adapter 'nope'"):
        engine.step_batch(x, adapters=[names[0], 'nope', None, None])
    with pytest.raises(MixedBatchError, match='3 adapters for a batch of 4 rows'):
        engine.step_batch(x, adapters=[None] * 3)
    assert engine.active == names[0]
    assert max_diff(engine.step(x).output, before) == 0.0
    mixed = engine.step_batch(x, adapters=[names[0], names[1], None, names[2]])
    assert sorted(mixed.loaded) == sorted(names[1:3])
    assert engine.active == names[0]
