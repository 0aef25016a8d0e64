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

"""Probing without probe inputs, on the smallest input, and only once per adapter version."""

import copy
import os

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import ProbeFailed
from lora_fixtures import peft_reference
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
from peft import get_peft_model
from peft import LoraConfig
import pytest
from safetensors.torch import load_file
from safetensors.torch import save_file
import torch
from torch import nn

LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_proj', 'c_fc']}


class Policy(nn.Module):
    """A plain torch policy, as a robot user writes one."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(12, 32)
        self.head = nn.Linear(32, 2)

    def forward(self, obs):
        return self.head(torch.tanh(self.body(obs)))


class GoalPolicy(Policy):
    """A policy whose forward needs a second input nothing in the model describes."""

    def forward(self, obs, goal):
        return self.head(torch.tanh(self.body(obs))) + goal


def _write_mlp_adapter(base, directory, seed):
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=['body', 'head'],
                        init_lora_weights=False)
    get_peft_model(copy.deepcopy(base), config).save_pretrained(str(directory))
    return directory


def _scale_weights(directory, factor):
    path = directory / 'adapter_model.safetensors'
    tensors = {k: v * factor for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path))
    os.utime(path, ns=(1, os.stat(path).st_mtime_ns + 10**9))


def _shapes_seen(model):
    shapes = []
    model.register_forward_pre_hook(lambda module, args, kwargs: shapes.append(
        [tuple(a.shape) for a in list(args) + list(kwargs.values())
         if isinstance(a, torch.Tensor)]), with_kwargs=True)
    return shapes


def test_transformers_model_activates_before_any_step(tmp_path):
    base = tiny_base()
    write_adapter(base, tmp_path / 'nav', seed=1, **LORA)
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2))
    report = engine.activate('nav')
    assert engine.active == 'nav' and report.cold
    x = torch.randint(0, 256, (2, 10))
    with torch.inference_mode():
        expected = peft_reference(base, tmp_path / 'nav')(x).logits
    assert torch.allclose(engine.step(x).output.logits, expected, atol=1e-5)
    engine.close()


def test_plain_torch_policy_activates_before_any_step(tmp_path):
    base = Policy().eval()
    _write_mlp_adapter(base, tmp_path / 'hazard', seed=3)
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2))
    engine.activate('hazard')
    obs = torch.randn(5, 12)
    with torch.inference_mode():
        expected = peft_reference(base, tmp_path / 'hazard')(obs)
    assert torch.allclose(engine.step(obs).output, expected, atol=1e-6)
    engine.close()


def test_no_probe_input_is_a_clear_error_until_a_step_shows_one(tmp_path):
    base = GoalPolicy().eval()
    _write_mlp_adapter(base, tmp_path / 'a', seed=1)
    _write_mlp_adapter(base, tmp_path / 'b', seed=2)
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2))
    with pytest.raises(ProbeFailed, match="adapter 'a' failed its probe: cannot form a probe "
                                          'input for this model: pass probe_inputs='):
        engine.activate('a')
    assert engine.active is None
    obs, goal = torch.randn(3, 12), torch.randn(3, 2)
    before = engine.step(obs, goal).output
    assert torch.equal(before, base(obs, goal).detach())
    engine.activate('a')
    engine.activate('b')
    assert engine.active == 'b'
    engine.close()


def test_probe_runs_one_row_one_token_and_still_catches_overflow(tmp_path):
    base = tiny_base()
    write_adapter(base, tmp_path / 'fine', seed=1, **LORA)
    huge = write_adapter(base, tmp_path / 'huge', seed=2, **LORA)
    _scale_weights(huge, 1e30)
    model = copy.deepcopy(base)
    shapes = _shapes_seen(model)
    x = torch.randint(0, 256, (4, 16))
    engine = AdapterEngine(model, [tmp_path], EngineConfig(num_slots=2), probe_inputs=((x,), {}))
    engine.activate('fine')
    assert shapes and all(s == [(1, 1)] for s in shapes)
    before = engine.step(x).output.logits
    with pytest.raises(ProbeFailed, match="adapter 'huge' failed its probe: .* NaN or inf"):
        engine.activate('huge')
    assert engine.active == 'fine' and torch.equal(engine.step(x).output.logits, before)
    engine.close()


def test_a_version_that_passed_is_not_probed_again_but_a_changed_file_is(tmp_path):
    base = tiny_base()
    for i, name in enumerate(('a', 'b', 'c')):
        write_adapter(base, tmp_path / name, seed=1 + i, **LORA)
    model = copy.deepcopy(base)
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(model, [tmp_path], EngineConfig(num_slots=2, keep_inactive=False),
                           probe_inputs=((x,), {}))
    for name in ('a', 'b', 'c'):
        engine.activate(name)
    probes = engine.metrics_dict()['probe_count']
    engine.activate('a')            # evicted, reloaded: the same bytes passed before
    reloaded = engine.metrics_dict()
    assert reloaded['probe_count'] == probes and reloaded['probes_remembered'] == 1
    with torch.inference_mode():
        expected = peft_reference(base, tmp_path / 'a')(x).logits
    assert torch.allclose(engine.step(x).output.logits, expected, atol=1e-5)
    _scale_weights(tmp_path / 'b', 1e30)   # same name, new file: validated and probed again
    with pytest.raises(ProbeFailed, match="adapter 'b' failed its probe"):
        engine.activate('b')
    assert engine.active == 'a'
    engine.close()
