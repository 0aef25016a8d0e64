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
The replica's oneDNN-packed linear layers compute what ``nn.Linear`` and PEFT compute.

Packing is a speed change only: mixed-adapter batches through a packed engine equal stock
PEFT per row (to 1e-5), a weight changed in place is used at once, and training, other dtypes
and the switch in the server settings behave as documented.
"""

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.serve.packed_linear import onednn_available
from adapter_switcher.serve.packed_linear import pack_linear_layers
from adapter_switcher.serve.packed_linear import PackedLinear
from adapter_switcher.serve.settings import build_engine
from adapter_switcher.serve.settings import ServerSettings
from lora_fixtures import max_diff
from lora_fixtures import peft_reference
from lora_fixtures import write_adapter
from model_zoo import tiny_llama
from model_zoo import ZOO
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.skipif(not onednn_available(), reason='PyTorch built without oneDNN')


def packed_modules(model: nn.Module) -> list:
    return [m for m in model.modules() if isinstance(m, PackedLinear)]


def test_packed_engine_matches_peft_row_by_row_in_mixed_batches(tmp_path):
    names = ['attn_r8', 'mlp_rs']
    base = tiny_llama()
    dirs = {n: write_adapter(base, tmp_path / n, seed=50 + i, **ZOO['llama'].adapters[n])
            for i, n in enumerate(names)}
    references = {n: peft_reference(base, d) for n, d in dirs.items()}
    references[None] = base
    engine = AdapterEngine(tiny_llama(), [str(tmp_path)], EngineConfig(num_slots=2))
    linears = sum(type(m) is nn.Linear for m in engine.model.modules())
    assert pack_linear_layers(engine.model) == linears > 0
    assert len(packed_modules(engine.model)) == linears
    assert not any(type(m) is nn.Linear for m in engine.model.modules())

    ids = torch.randint(0, 128, (5, 7), generator=torch.Generator().manual_seed(1))
    rows = ['attn_r8', None, 'mlp_rs', 'mlp_rs', 'attn_r8']
    for adapters in (rows, ['mlp_rs'] * 5, [None] * 5):
        output = engine.step_batch(ids, adapters=adapters).output
        for index, name in enumerate(adapters):
            with torch.inference_mode():
                expected = references[name](ids[index:index + 1])
            assert max_diff(output.logits[index:index + 1], expected.logits) <= 1e-5


def test_a_weight_changed_in_place_is_used_at_once():
    torch.manual_seed(0)
    plain = nn.Linear(64, 32)
    packed = PackedLinear(plain)
    assert packed.weight is plain.weight and packed.bias is plain.bias
    x = torch.randn(6, 64)
    with torch.inference_mode():
        assert torch.allclose(packed(x), plain(x), atol=1e-5)
    with torch.no_grad():
        plain.weight.mul_(-2.0)
    with torch.inference_mode():
        assert torch.allclose(packed(x), plain(x), atol=1e-5)


def test_layers_made_in_inference_mode_and_odd_inputs():
    with torch.inference_mode():
        plain = nn.Linear(16, 8, bias=False)
        packed = PackedLinear(plain)
        for x in (torch.randn(16), torch.randn(16, 5).t(), torch.randn(2, 3, 4, 16)):
            assert torch.allclose(packed(x), plain(x), atol=1e-5)
        assert packed(torch.randn(0, 16)).shape == (0, 8)


def test_training_and_other_dtypes_take_nn_linear_forward():
    torch.manual_seed(0)
    plain = nn.Linear(16, 8)
    packed = PackedLinear(plain)
    x = torch.randn(3, 16)
    packed(x).sum().backward()  # grad enabled, weights require grad: autograd works
    assert plain.weight.grad is not None
    doubles = nn.Linear(16, 8).double()
    x64 = x.double()
    assert torch.equal(PackedLinear(doubles)(x64), doubles(x64))


def test_server_settings_switch_packing_and_refuse_a_non_boolean():
    args = {'adapters_dirs': []}
    engine, _ = build_engine(ServerSettings.from_args(args))
    assert packed_modules(engine.model)
    engine, _ = build_engine(ServerSettings.from_args({**args, 'pack_linear': False}))
    assert not packed_modules(engine.model)
    with pytest.raises(ValueError, match='pack_linear must be true or false'):
        ServerSettings.from_args({'pack_linear': 'yes'})
