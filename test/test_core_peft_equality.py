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
The engine computes what stock PEFT computes, for every adapter, across hundreds of switches.

References come from ``PeftModel.from_pretrained(base, adapter_dir)``; the adapters differ in
rank, lora_alpha, use_rslora, target subsets, rank/alpha patterns and transformed layers. With
fewer slots than adapters, the random switch sequence exercises cold loads, evictions and
resident switches alike.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.safetensors_io import load_tensors
from adapter_switcher.core.safetensors_io import MappedSafetensors
from lora_fixtures import peft_reference
from lora_fixtures import random_switches
from lora_fixtures import tiny_base
from lora_fixtures import write_adapters
from peft.utils.hotswap import hotswap_adapter
from peft.utils.hotswap import prepare_model_for_compiled_hotswap
import pytest
import torch

TOLERANCE = 1e-5
SWITCHES = 240


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tiny_base()
    dirs = write_adapters(base, tmp_path_factory.mktemp('adapters'))
    torch.manual_seed(1)
    inputs = [torch.randint(0, 256, (1, 16)), torch.randint(0, 256, (2, 9))]
    references = {}
    with torch.no_grad():
        for name, directory in dirs.items():
            model = peft_reference(base, directory)
            references[name] = [model(x).logits for x in inputs]
        references[None] = [base(x).logits for x in inputs]
    return base, dirs, inputs, references


def test_every_adapter_matches_peft_over_random_switches(setup):
    base, dirs, inputs, references = setup
    engine = AdapterEngine(copy.deepcopy(base), [next(iter(dirs.values())).parent],
                           EngineConfig(num_slots=3, max_rank=16),
                           probe_inputs=((inputs[0],), {}))
    assert sorted(a.name for a in engine.adapters()) == sorted(dirs)
    names = sorted(dirs) + [None]
    seen = set()
    for name, which, output in random_switches(engine, names, inputs, SWITCHES, seed=7):
        diff = (output.logits - references[name][which]).abs().max().item()
        assert diff <= TOLERANCE, f'{name}: max abs diff {diff} vs PEFT'
        seen.add(name)
    assert seen == set(names)
    metrics = engine.metrics_dict()
    assert metrics['slot_misses'] > len(dirs), 'switch sequence should force evictions'
    assert metrics['switch_count'] > 0 and metrics['cold_activation_count'] > 0


def test_requests_applied_between_steps_match_peft(setup):
    base, dirs, inputs, references = setup
    engine = AdapterEngine(copy.deepcopy(base), [next(iter(dirs.values())).parent],
                           EngineConfig(num_slots=2, max_rank=16),
                           probe_inputs=((inputs[0],), {}))
    for name in sorted(dirs):
        engine.request(name)
        assert engine.worker.wait_idle(30.0)
        result = engine.step(inputs[1])
        assert result.adapter == name and result.swap is not None
        assert (result.output.logits - references[name][1]).abs().max().item() <= TOLERANCE


def test_slot_copy_equals_peft_hotswap(setup):
    """The engine's own slot copy gives what PEFT's hotswap_adapter gives, padding included."""
    base, dirs, inputs, _ = setup
    same_targets = ['nav_r8', 'haz_r4']
    peft_model = peft_reference(base, dirs[same_targets[0]])
    prepare_model_for_compiled_hotswap(peft_model, target_rank=16)
    engine = AdapterEngine(copy.deepcopy(base), [dirs['nav_r8'].parent],
                           EngineConfig(num_slots=2, max_rank=16),
                           probe_inputs=((inputs[0],), {}))
    for name in same_targets:
        hotswap_adapter(peft_model, str(dirs[name]), adapter_name='default', torch_device='cpu')
        engine.activate(name)
        with torch.no_grad():
            expected = peft_model(inputs[0]).logits
        assert (engine.step(inputs[0]).output.logits - expected).abs().max().item() <= TOLERANCE


def test_mapped_views_equal_safetensors_load_file(setup):
    _, dirs, _, _ = setup
    path = str(dirs['patterned'] / 'adapter_model.safetensors')
    loaded = load_tensors(path)
    mapped = MappedSafetensors(path)
    assert sorted(mapped.keys()) == sorted(loaded)
    for key, tensor in loaded.items():
        view = mapped.view(key)
        assert view.dtype == tensor.dtype and torch.equal(view, tensor)
