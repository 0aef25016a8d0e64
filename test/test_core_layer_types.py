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
Llama-, ViT- and CNN-style bases: the engine computes what stock PEFT computes.

Adapters on Linear, Conv2d (strided, reflect-padded, grouped), Conv1d and Embedding layers, with
mixed ranks, alphas, rsLoRA and rank/alpha patterns, are switched in random order with fewer
slots than adapters; every floating-point tensor of every output (``CausalLMOutput``, a ViT's
``BaseModelOutputWithPooling`` without logits, a bare tensor) must equal
``PeftModel.from_pretrained``'s. Layers the engine cannot run are refused with their name and
type.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterRejected
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import ProbeFailed
from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.core.probe import probe_tensors
from lora_fixtures import max_diff
from lora_fixtures import peft_reference
from lora_fixtures import random_switches
from lora_fixtures import write_adapters
from model_zoo import tiny_vit
from model_zoo import ZOO
import pytest
from safetensors.torch import save_file
import torch
from torch import nn

TOLERANCE = 1e-5
SWITCHES = 60


@pytest.fixture(scope='module', params=sorted(ZOO))
def zoo(request, tmp_path_factory):
    entry = ZOO[request.param]
    base = entry.build()
    root = tmp_path_factory.mktemp(request.param)
    dirs = write_adapters(base, root, entry.adapters)
    torch.manual_seed(3)
    inputs = entry.inputs()
    with torch.no_grad():
        references = {name: [peft_reference(base, d)(x) for x in inputs]
                      for name, d in dirs.items()}
        references[None] = [base(x) for x in inputs]
    return base, root, dirs, inputs, references


def test_random_switches_match_peft(zoo):
    base, root, dirs, inputs, references = zoo
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=3, max_rank=16),
                           probe_inputs=((inputs[0],), {}))
    assert engine.rejections() == {}
    names = sorted(dirs) + [None]
    seen = set()
    for name, which, output in random_switches(engine, names, inputs, SWITCHES, seed=11):
        diff = max_diff(output, references[name][which])
        assert diff <= TOLERANCE, f'{name}: max abs diff {diff} vs PEFT'
        seen.add(name)
    assert seen == set(names)
    assert engine.metrics_dict()['slot_misses'] > 3, 'the sequence should force evictions'


def test_adapters_differ_from_base(zoo):
    """The comparison above would be vacuous if the adapters changed nothing."""
    _, _, dirs, _, references = zoo
    for name in dirs:
        assert max_diff(references[name][0], references[None][0]) > 1e-3, name


def test_manifest_probe_compares_the_whole_output_structure(tmp_path):
    base = tiny_vit()
    lora = {'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj', 'fc2']}
    x = torch.randn(1, 3, 16, 16)
    for name, field, scale in (('honest', 'last_hidden_state', 1.0),
                               ('liar', 'pooler_output', 1.5)):
        directory = write_adapters(base, tmp_path, {name: lora})[name]
        with torch.no_grad():
            tensors = probe_tensors(x, peft_reference(base, directory)(x))
        assert set(tensors) == {'input', "output['last_hidden_state']",
                                "output['pooler_output']"}
        tensors[f"output['{field}']"] *= scale
        save_file(tensors, str(directory / 'probe.safetensors'))
        write_manifest(directory, probe={'file': 'probe.safetensors', 'atol': 1e-4})
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2))
    engine.activate('honest')
    with pytest.raises(ProbeFailed, match=r"output\['pooler_output'\] differs from the expected"):
        engine.activate('liar')
    assert engine.active == 'honest'


class WithAttention(nn.Module):
    """A base with a layer type PEFT adapts but the engine does not (MultiheadAttention)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.wide = nn.Conv2d(3, 4, 3, padding=2, dilation=2)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.attn(x, x, x)[0])


@pytest.mark.parametrize('target, reason', [
    ('attn', 'targets attn (MultiheadAttention): only Linear, Conv1D, Conv1d, Conv2d, Conv3d '
             'and Embedding layers are supported'),
    ('wide', 'targets wide (Conv2d): dilation (2, 2)'),
])
def test_unsupported_layers_are_refused_by_name_and_type(tmp_path, target, reason):
    base = WithAttention().eval()
    write_adapters(base, tmp_path, {
        'good': {'r': 2, 'lora_alpha': 4, 'target_modules': ['out']},
        'bad': {'r': 2, 'lora_alpha': 4, 'target_modules': [target, 'out']}})
    x = torch.randn(1, 5, 16)
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    assert reason in engine.rejections()[str(tmp_path / 'bad')]
    engine.activate('good')
    before = engine.step(x).output
    with pytest.raises(AdapterRejected, match='rejected: targets'):
        engine.activate('bad')
    assert engine.active == 'good' and torch.equal(engine.step(x).output, before)
