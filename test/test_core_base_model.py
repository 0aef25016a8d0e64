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
The base model: from a local Hugging Face directory or a factory plus safetensors weights.

Both ways give the same model; the fingerprint follows the weights; every bad specification is
refused with a message that names it, and pickle weights are never loaded.
"""

from adapter_switcher.core import BaseModelError
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import load_base_model
from adapter_switcher.core import model_fingerprint
from lora_fixtures import tiny_base
import pytest
from safetensors.torch import save_file
from safetensors.torch import save_model
import torch

FACTORY = 'lora_fixtures:tiny_base'


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp('base')
    model = tiny_base(seed=3)
    model.save_pretrained(str(root / 'hf'), safe_serialization=True)
    save_model(model, str(root / 'weights.safetensors'))
    return model, root


def _logits(model, x):
    with torch.no_grad():
        return model(x).logits


def test_hf_directory_and_factory_give_the_same_model(saved):
    reference, root = saved
    x = torch.randint(0, 256, (1, 8))
    from_dir = load_base_model(BaseModelSpec(hf_dir=str(root / 'hf')))
    from_factory = load_base_model(BaseModelSpec(factory=FACTORY,
                                                 weights=str(root / 'weights.safetensors')))
    for model in (from_dir, from_factory):
        assert not model.training
        assert not any(p.requires_grad for p in model.parameters())
        assert torch.equal(_logits(model, x), _logits(reference, x))
    assert model_fingerprint(from_dir) == model_fingerprint(from_factory)


def test_fingerprint_follows_the_weights(saved):
    reference, _ = saved
    other = tiny_base(seed=4)
    assert model_fingerprint(reference) == model_fingerprint(tiny_base(seed=3))
    assert model_fingerprint(reference) != model_fingerprint(other)
    assert model_fingerprint(reference).startswith('sha256:')


def test_pickle_weights_are_refused(saved, tmp_path):
    reference, _ = saved
    torch.save(reference.state_dict(), str(tmp_path / 'weights.bin'))
    with pytest.raises(BaseModelError, match='must be a .safetensors file'):
        load_base_model(BaseModelSpec(factory=FACTORY, weights=str(tmp_path / 'weights.bin')))
    only_pickle = tmp_path / 'hf'
    reference.save_pretrained(str(only_pickle), safe_serialization=False)
    (only_pickle / 'model.safetensors').unlink(missing_ok=True)
    with pytest.raises(BaseModelError, match='cannot load the model'):
        load_base_model(BaseModelSpec(hf_dir=str(only_pickle)))


@pytest.mark.parametrize('spec, message', [
    (BaseModelSpec(), 'exactly one of hf_dir or factory'),
    (BaseModelSpec(hf_dir='/nonexistent', factory=FACTORY), 'exactly one of hf_dir or factory'),
    (BaseModelSpec(hf_dir='/nonexistent'), 'not a transformers model directory'),
    (BaseModelSpec(factory='no_colon'), "must look like 'package.module:function'"),
    (BaseModelSpec(factory='no_such_module:f'), 'cannot import the factory'),
    (BaseModelSpec(factory='lora_fixtures:TINY'), 'is a dict, not a function'),
    (BaseModelSpec(factory='lora_fixtures:write_adapters'), 'cannot call the factory'),
])
def test_bad_specifications_name_the_problem(spec, message):
    with pytest.raises(BaseModelError, match=message):
        load_base_model(spec)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    save_file({'transformer.wte.weight': torch.zeros(3, 3)}, str(tmp_path / 'w.safetensors'))
    with pytest.raises(BaseModelError, match='do not fit the model: .*size mismatch'):
        load_base_model(BaseModelSpec(factory=FACTORY, weights=str(tmp_path / 'w.safetensors')))
    save_file({'unknown.weight': torch.zeros(3)}, str(tmp_path / 'u.safetensors'))
    with pytest.raises(BaseModelError, match='do not fit the model: missing .*unexpected'):
        load_base_model(BaseModelSpec(factory=FACTORY, weights=str(tmp_path / 'u.safetensors')))
