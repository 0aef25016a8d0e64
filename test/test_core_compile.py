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
Loading adapters of other ranks and alphas into a compiled model does not recompile it.

Slots are zero-padded to max_rank and scalings live in tensors, so after each slot has been run
once, swapping in new adapters only changes tensor contents, never what dynamo guards on. The
same holds for conv slots (grouped ones included) and embedding slots.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from lora_fixtures import peft_reference
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
from model_zoo import ZOO
from peft import PeftModel
import pytest
import torch
from torch._dynamo.utils import counters

SHAPES = [(4, 8), (8, 16), (2, 32), (16, 4), (6, 7)]


def test_new_ranks_and_alphas_do_not_recompile(tmp_path):
    base = tiny_base()
    for i, (rank, alpha) in enumerate(SHAPES):
        write_adapter(base, tmp_path / f'a{i}', seed=i, r=rank, lora_alpha=alpha,
                      target_modules=['c_attn', 'c_fc'])
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=3),
                           probe_inputs=((x,), {}))
    torch._dynamo.reset()
    engine.model = torch.compile(engine.model, backend='eager')
    for name in ('a0', 'a1', 'a2'):            # one graph per slot index, once
        engine.activate(name)
        engine.step(x)
    graphs = counters['stats']['unique_graphs']
    for name in ('a3', 'a4', 'a0', 'a1', 'a2', 'a3'):
        engine.activate(name)
        output = engine.step(x).output.logits
        with torch.no_grad():
            expected = peft_reference(base, tmp_path / name)(x).logits
        assert (output - expected).abs().max() <= 1e-5
    assert counters['stats']['unique_graphs'] == graphs
    torch._dynamo.reset()


LAYER_TARGETS = {
    'cnn': ['stem', 'mix', 'rows', 'head'],
    'llama': ['embed_tokens', 'q_proj', 'down_proj'],
}


@pytest.mark.parametrize('kind', sorted(LAYER_TARGETS))
def test_conv_and_embedding_slots_do_not_recompile(tmp_path, kind):
    entry = ZOO[kind]
    base = entry.build()
    for i, (rank, alpha) in enumerate([(4, 8), (8, 16), (2, 32), (16, 4), (6, 7)]):
        write_adapter(base, tmp_path / f'a{i}', seed=i, r=rank, lora_alpha=alpha,
                      use_rslora=bool(i % 2), target_modules=LAYER_TARGETS[kind])
    x = entry.inputs()[0]
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=3),
                           probe_inputs=((x,), {}))
    torch._dynamo.reset()
    engine.model = torch.compile(engine.model, backend='eager')
    for name in ('a0', 'a1', 'a2'):
        engine.activate(name)
        engine.step(x)
    graphs = counters['stats']['unique_graphs']
    for name in ('a3', 'a4', 'a0', 'a1', 'a2', 'a3'):
        engine.activate(name)
        output = engine.step(x).output
        with torch.no_grad():
            expected = PeftModel.from_pretrained(copy.deepcopy(base), str(tmp_path / name))(x)
        if kind == 'llama':
            output, expected = output.logits, expected.logits
        # outputs reach ~1e2 here: 1e-5 relative is the fp32 rounding of the two summations
        assert (output - expected).abs().max() <= 1e-5 * max(1.0, expected.abs().max())
    assert counters['stats']['unique_graphs'] == graphs
    torch._dynamo.reset()
