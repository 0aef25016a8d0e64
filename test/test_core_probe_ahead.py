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
probe_ahead: adapters are probed once when registered, so activations skip the probe forward.

The fast path must keep every guarantee of the probed one: a NaN-producing adapter is still
refused (now without a forward), the active adapter and its outputs stay as they were, and a
changed file is probed again. Checked on GPT-2 (tokens, ModelOutput) and a CNN (conv slots).
"""

import copy
from pathlib import Path

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import ProbeFailed
from lora_fixtures import peft_reference
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
from model_zoo import small_cnn
from model_zoo import ZOO
import pytest
from safetensors.torch import load_file
from safetensors.torch import save_file
import torch

LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_fc']}
WEIGHTS = 'adapter_model.safetensors'
WAIT_S = 60.0


def _poison(directory: Path, scale: float) -> None:
    """Scale every LoRA B weight: finite weights, accepted by the scan, that overflow."""
    tensors = load_file(str(directory / WEIGHTS))
    for key in tensors:
        if 'lora_B' in key:
            tensors[key] = tensors[key] * scale
    save_file(tensors, str(directory / WEIGHTS), metadata={'format': 'pt'})


def _output(engine, x):
    output = engine.step(x).output
    return output.logits if hasattr(output, 'logits') else output


def _engine(model, root, x, **config):
    engine = AdapterEngine(model, [root], EngineConfig(num_slots=2, keep_inactive=False,
                                                       probe_ahead=True, **config),
                           probe_inputs=((x,), {}))
    assert engine.worker.wait_idle(WAIT_S)
    return engine


def test_activation_after_probe_ahead_runs_no_probe_and_equals_peft(tmp_path):
    base = tiny_base()
    for i, name in enumerate(('a', 'b', 'c')):
        write_adapter(base, tmp_path / name, seed=1 + i, **LORA)
    x = torch.randint(0, 256, (2, 8))
    engine = _engine(copy.deepcopy(base), tmp_path, x)
    metrics = engine.metrics_dict()
    assert metrics['probes_ahead'] == 3 and metrics['probe_count'] == 3
    assert engine.active is None and all(a.tier == 'disk' for a in engine.adapters())
    for name in ('a', 'b', 'c', 'a'):
        report = engine.activate(name)
        assert report.cold and engine.active == name
        with torch.inference_mode():
            expected = peft_reference(base, tmp_path / name)(x).logits
        assert torch.allclose(_output(engine, x), expected, atol=1e-5)
    metrics = engine.metrics_dict()
    assert metrics['probe_count'] == 3 and metrics['probes_remembered'] == 4
    engine.close()


@pytest.mark.parametrize('poison', [1e30, 3e38])
def test_nan_producing_adapter_is_refused_on_the_fast_path_active_unchanged(tmp_path, poison):
    base = tiny_base()
    write_adapter(base, tmp_path / 'fine', seed=1, **LORA)
    _poison(write_adapter(base, tmp_path / 'bad', seed=2, **LORA), poison)
    x = torch.randint(0, 256, (1, 8))
    engine = _engine(copy.deepcopy(base), tmp_path, x)
    assert engine.metrics_dict()['probe_failures'] == 1
    engine.activate('fine')
    before = _output(engine, x)
    probes = engine.metrics_dict()['probe_count']
    for _ in range(2):
        with pytest.raises(ProbeFailed, match="adapter 'bad' failed its probe: .* NaN or inf"):
            engine.activate('bad')
        assert engine.active == 'fine' and torch.equal(_output(engine, x), before)
    engine.request('bad')
    for _ in range(20):
        result = engine.step(x)
        if result.error:
            break
        engine.worker.wait_idle(WAIT_S)
    assert 'NaN or inf' in result.error and engine.active == 'fine'
    assert torch.equal(_output(engine, x), before)
    assert engine.metrics_dict()['probe_count'] == probes        # refused without a forward
    assert {a.name: a.tier for a in engine.adapters()}['bad'] == 'disk'
    engine.close()


def test_changed_file_is_probed_again_and_a_bad_one_refused(tmp_path):
    base = tiny_base()
    write_adapter(base, tmp_path / 'a', seed=1, **LORA)
    write_adapter(base, tmp_path / 'b', seed=2, **LORA)
    x = torch.randint(0, 256, (1, 8))
    engine = _engine(copy.deepcopy(base), tmp_path, x)
    engine.activate('a')
    _poison(tmp_path / 'b', 1e30)
    engine.scan()
    assert engine.worker.wait_idle(WAIT_S)
    assert engine.metrics_dict()['probes_ahead'] == 3
    with pytest.raises(ProbeFailed, match="adapter 'b' failed its probe"):
        engine.activate('b')
    assert engine.active == 'a'
    write_adapter(base, tmp_path / 'c', seed=3, **LORA)
    assert engine.add(tmp_path / 'c') == 'c'
    assert engine.worker.wait_idle(WAIT_S)
    probes = engine.metrics_dict()['probe_count']
    engine.activate('c')
    assert engine.active == 'c' and engine.metrics_dict()['probe_count'] == probes
    engine.close()


def test_conv_model_probes_ahead_and_refuses_an_overflowing_adapter(tmp_path):
    base = small_cnn()
    configs = ZOO['cnn'].adapters
    write_adapter(base, tmp_path / 'good', seed=4, **configs['patterned'])
    _poison(write_adapter(base, tmp_path / 'inf', seed=5, **configs['conv_r4']), 1e30)
    x = torch.randn(2, 3, 16, 16)
    engine = _engine(copy.deepcopy(base), tmp_path, x)
    assert engine.metrics_dict()['probes_ahead'] == 2
    engine.activate('good')
    with torch.inference_mode():
        expected = peft_reference(base, tmp_path / 'good')(x)
    before = _output(engine, x)
    assert torch.allclose(before, expected, atol=1e-5)
    with pytest.raises(ProbeFailed, match="adapter 'inf' failed its probe: .* NaN or inf"):
        engine.activate('inf')
    assert engine.active == 'good' and torch.equal(_output(engine, x), before)
    engine.close()


def test_steps_keep_running_the_active_adapter_while_others_are_probed(tmp_path):
    base = tiny_base()
    for i in range(4):
        write_adapter(base, tmp_path / f'n{i}', seed=10 + i, **LORA)
    x = torch.randint(0, 256, (1, 8))
    plain = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                          probe_inputs=((x,), {}))
    plain.activate('n0')
    expected = _output(plain, x)
    plain.close()
    engine = _engine(copy.deepcopy(base), tmp_path, x)
    engine.activate('n0')
    write_adapter(base, tmp_path / 'late', seed=20, **LORA)
    engine.scan()                      # queues a probe of 'late' while n0 runs
    while engine.worker.busy():
        assert engine.step(x).adapter == 'n0'
        assert torch.equal(_output(engine, x), expected)
    assert engine.metrics_dict()['probes_ahead'] == 5
    engine.close()
