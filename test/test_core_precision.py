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
Reduced-precision bases: bf16, fp16 and a torch dynamic int8 base, against fp32 PEFT.

The slots take the dtype each layer computes in, so adapter weights are converted once, when
copied into a slot, never in a forward. Stated tolerances, as the max abs difference over the
largest reference value, against fp32 ``PeftModel.from_pretrained`` with the same adapter:
bf16 within 1e-1, fp16 within 2e-2, int8 (torch dynamic quantization of every Linear) within
2.5e-1. The test adapters are random with scalings up to 16, far from trained adapters' small
deltas; measured worst cases are 7.8e-2, 1.4e-2 and 1.2e-1 (the bases alone: 5.8e-3, 6.5e-4,
2.0e-2). PEFT itself keeps adapter weights in fp32 on a half-precision base
(``autocast_adapter_dtype``) and casts activations every forward, which halves its error there;
the engine keeps one dtype per layer, so no cast happens in a forward and none in a swap.
Layers the engine cannot compute beside are refused with a reason.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterRejected
from adapter_switcher.core import EngineConfig
from lora_fixtures import peft_reference
from lora_fixtures import write_adapters
from model_zoo import ZOO
import pytest
import torch
from torch import nn

RELATIVE = {torch.bfloat16: 1e-1, torch.float16: 2e-2}
INT8_RELATIVE = 2.5e-1


def main_tensor(output):
    return output.logits if hasattr(output, 'logits') else output


def relative_error(output, reference) -> float:
    output = main_tensor(output).detach().float()
    reference = main_tensor(reference).detach().float()
    return float((output - reference).abs().max() / reference.abs().max())


@pytest.fixture(scope='module', params=['cnn', 'llama'])
def world(request, tmp_path_factory):
    entry = ZOO[request.param]
    base = entry.build()
    root = tmp_path_factory.mktemp(request.param)
    dirs = write_adapters(base, root, entry.adapters)
    x = entry.inputs()[1]
    with torch.no_grad():
        references = {name: peft_reference(base, d)(x) for name, d in dirs.items()}
        references[None] = base(x)
    return base, root, dirs, x, references


@pytest.mark.parametrize('dtype', sorted(RELATIVE, key=str))
def test_half_precision_bases_match_fp32_peft_within_tolerance(world, dtype):
    base, root, dirs, x, references = world
    x = x.to(dtype) if x.is_floating_point() else x
    engine = AdapterEngine(copy.deepcopy(base).to(dtype), [root], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    for name in sorted(dirs):
        engine.activate(name)
        output = engine.step(x).output
        assert main_tensor(output).dtype == dtype
        error = relative_error(output, references[name])
        assert error <= RELATIVE[dtype], f'{name} {dtype}: relative error {error:.2e}'
    slots = [m for m in engine.model.modules() if hasattr(m, 'lora_A')]
    assert slots and all(m.lora_A.dtype == dtype and m.lora_B.dtype == dtype for m in slots)


def test_int8_dynamic_base_matches_fp32_peft_within_tolerance(tmp_path):
    entry = ZOO['llama']
    base = entry.build()
    dirs = write_adapters(base, tmp_path, entry.adapters)
    quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(base), {nn.Linear},
                                                       dtype=torch.qint8)
    x = entry.inputs()[1]
    engine = AdapterEngine(quantized, [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    assert engine.rejections() == {}
    with torch.no_grad():
        for name in sorted(dirs):
            engine.activate(name)
            error = relative_error(engine.step(x).output, peft_reference(base, dirs[name])(x))
            assert error <= INT8_RELATIVE, f'{name}: relative error {error:.2e}'
    slots = [m for m in engine.model.modules() if hasattr(m, 'lora_A')]
    assert slots and all(m.lora_A.dtype == torch.float32 for m in slots)


def test_statically_quantized_layer_is_refused(tmp_path):
    base = ZOO['cnn'].build()
    write_adapters(base, tmp_path, {'head': {'r': 2, 'lora_alpha': 4,
                                             'target_modules': ['head', 'rows']}})
    static = copy.deepcopy(base)
    static.head = torch.ao.nn.quantized.Linear(32 * 8, 6)
    engine = AdapterEngine(static, [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((torch.randn(1, 3, 16, 16),), {}))
    with pytest.raises(AdapterRejected, match=r'targets head \(Linear\): statically quantized'):
        engine.activate('head')
    assert engine.active is None
