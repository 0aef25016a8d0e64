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

"""The engine's LoRA config rules agree with PEFT's own, and the core runs without PEFT."""

import copy
from dataclasses import asdict
from dataclasses import fields
import json
import random
import subprocess
import sys
import textwrap

from adapter_switcher.core.lora_config import INERT_FIELDS
from adapter_switcher.core.lora_config import LoraConfigError
from adapter_switcher.core.lora_config import LoraSettings
from adapter_switcher.core.lora_config import RULE_FIELDS
from adapter_switcher.core.lora_config import UNSUPPORTED_FIELDS
from lora_fixtures import tiny_base
from peft import get_peft_model
from peft import LoraConfig
from peft.tuners.tuners_utils import check_target_module_exists
from peft.utils.other import get_pattern_key
import pytest
import torch
from torch import nn

GPT2_NAMES = [n for n, _ in tiny_base().named_modules() if n]
NESTED_NAMES = ['encoder.layers.0.proj', 'encoder.layers.1.proj', 'encoder.layers.1.mlp.fc',
                'encoder.layers.12.experts.3.fc', 'decoder.blocks.2.attn.q',
                'decoder.blocks.2.attn', 'head', 'proj', 'layers.3.fc',
                'model.layers.10.self_attn.q_proj']
NAMES = GPT2_NAMES + NESTED_NAMES
LEAVES = sorted({n.rsplit('.', 1)[-1] for n in NAMES} | {'attn.c_attn', 'mlp.c_proj', 'nope'})
REGEXES = [r'.*\.c_attn', r'.*(c_fc|q_proj)', r'transformer\.h\.1\..*', r'head', r'.*',
           r'.*layers\.\d+\.proj']


def _random_config(rng: random.Random) -> dict:
    config = {'r': rng.randint(1, 64), 'lora_alpha': rng.choice([1, 8, 16.5, 64])}
    if rng.random() < 0.25:
        config['target_modules'] = rng.choice(REGEXES)
    else:
        config['target_modules'] = rng.sample(LEAVES, rng.randint(1, 4))
        if rng.random() < 0.4:
            config['layers_to_transform'] = rng.choice(
                [rng.randint(0, 12), rng.sample(range(13), rng.randint(0, 3))])
            if rng.random() < 0.5:
                config['layers_pattern'] = rng.choice(
                    ['h', 'layers', 'blocks', ['h', 'layers'], 'experts'])
    if rng.random() < 0.3:
        config['exclude_modules'] = rng.choice(
            [rng.sample(LEAVES, 2), r'.*\.1\..*', ['transformer.h.0.attn.c_attn']])
    for pattern in ('rank_pattern', 'alpha_pattern'):
        if rng.random() < 0.4:
            keys = rng.sample(LEAVES + ['h.1.mlp.c_fc', r'layers\.1\.proj'], 2)
            config[pattern] = {k: rng.randint(1, 32) for k in keys}
    return config


@pytest.mark.parametrize('seed', range(300))
def test_matching_and_patterns_agree_with_peft(seed):
    raw = _random_config(random.Random(seed))
    try:
        peft_config = LoraConfig(**raw)
    except ValueError:
        with pytest.raises(LoraConfigError):
            LoraSettings.from_dict(raw)
        return
    ours = LoraSettings.from_dict(json.loads(json.dumps(raw)))
    for name in NAMES:
        assert ours.targets(name) == bool(check_target_module_exists(peft_config, name)), name
        rank_key = get_pattern_key(peft_config.rank_pattern.keys(), name)
        alpha_key = get_pattern_key(peft_config.alpha_pattern.keys(), name)
        assert ours.rank_of(name) == peft_config.rank_pattern.get(rank_key, peft_config.r)
        assert ours.alpha_of(name) == peft_config.alpha_pattern.get(alpha_key,
                                                                    peft_config.lora_alpha)


def _peft_unsupported(config: LoraConfig) -> bool:
    """Return the refusal as PEFT's own field metadata decides it (the former rule)."""
    for spec in fields(config):
        value = getattr(config, spec.name)
        if spec.metadata.get('is_lora_variant') and value:
            return True
        if value in (spec.metadata.get('lora_variants') or ()):
            return True
    return bool(config.lora_bias or config.bias != 'none' or config.modules_to_save
                or config.trainable_token_indices or config.target_parameters
                or config.layer_replication)


@pytest.mark.parametrize('setting', [
    {}, {'use_dora': True}, {'lora_bias': True}, {'bias': 'all'}, {'bias': 'lora_only'},
    {'modules_to_save': ['ln_f']}, {'layer_replication': [[0, 1]]},
    {'trainable_token_indices': [1, 2]}, {'init_lora_weights': 'gaussian'},
    {'init_lora_weights': False}, {'use_rslora': True}, {'lora_dropout': 0.1},
    {'alora_invocation_tokens': [1, 2], 'task_type': 'CAUSAL_LM'}])
def test_refused_settings_agree_with_peft(setting):
    config = LoraConfig(target_modules=['c_attn'], **setting)
    saved = json.loads(json.dumps(config.to_dict(), default=list))
    ours = LoraSettings.from_dict(saved)
    assert bool(ours.unsupported) == _peft_unsupported(config), ours.unsupported


def test_every_peft_lora_setting_is_classified():
    known = INERT_FIELDS | set(UNSUPPORTED_FIELDS) | set(RULE_FIELDS)
    assert {f.name for f in fields(LoraConfig)} <= known, 'a new PEFT setting: classify it'


def test_unknown_setting_that_is_set_is_refused_by_name():
    settings = LoraSettings.from_dict({'r': 4, 'target_modules': ['c_attn'], 'use_magic': True,
                                       'future_flag': False})
    assert settings.unsupported == ('use_magic (unknown setting)',)


@pytest.mark.parametrize('raw, problem', [
    ({'r': '8'}, 'r must be an integer'),
    ({'r': True}, 'r must be an integer'),
    ({'lora_alpha': None}, 'lora_alpha must be a number'),
    ({'target_modules': [1, 2]}, 'target_modules must be a string or a list'),
    ({'target_modules': ['c_attn'], 'layers_to_transform': 'all'}, 'layers_to_transform'),
    ({'target_modules': ['c_attn'], 'rank_pattern': {'c_attn': 'big'}}, 'rank_pattern'),
    ({'target_modules': '.*', 'layers_to_transform': [0]}, 'cannot be used when'),
])
def test_malformed_configs_are_refused_with_the_field_named(raw, problem):
    with pytest.raises(LoraConfigError, match=problem):
        LoraSettings.from_dict(raw)


def test_saved_peft_config_reads_back_the_same(tmp_path):
    config = LoraConfig(r=6, lora_alpha=12, target_modules=['c_attn', 'c_fc'],
                        layers_to_transform=[1], rank_pattern={'c_fc': 2})
    get_peft_model(copy.deepcopy(tiny_base()), config).save_pretrained(str(tmp_path))
    raw = json.loads((tmp_path / 'adapter_config.json').read_text())
    ours = LoraSettings.from_dict(raw)
    assert not ours.unsupported and ours.r == 6 and ours.lora_alpha == 12
    assert [n for n in GPT2_NAMES if ours.targets(n)] == ['transformer.h.1.attn.c_attn',
                                                          'transformer.h.1.mlp.c_fc']
    assert asdict(ours)['rank_pattern'] == (('c_fc', 2),)


POLICY = textwrap.dedent("""
    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(8, 16)
            self.head = nn.Linear(16, 2)

        def forward(self, obs):
            return self.head(torch.relu(self.body(obs)))
    """)


def test_plain_torch_policy_runs_without_importing_peft_or_transformers(tmp_path):
    namespace = {'nn': nn, 'torch': torch}
    exec(POLICY, namespace)
    torch.manual_seed(0)
    base = namespace['Policy']().eval()
    torch.save(base.state_dict(), tmp_path / 'base.pt')
    peft_model = get_peft_model(copy.deepcopy(base), LoraConfig(
        r=4, lora_alpha=8, target_modules=['body', 'head'], init_lora_weights=False))
    peft_model.save_pretrained(str(tmp_path / 'adapters' / 'nav'))
    obs = torch.randn(3, 8)
    with torch.inference_mode():
        expected = peft_model(obs)
    torch.save({'obs': obs, 'expected': expected}, tmp_path / 'io.pt')
    script = POLICY + textwrap.dedent(f"""
        base = Policy().eval()
        base.load_state_dict(torch.load({str(tmp_path / 'base.pt')!r}))
        io = torch.load({str(tmp_path / 'io.pt')!r})
        engine = AdapterEngine(base, [{str(tmp_path / 'adapters')!r}])
        engine.activate('nav')
        assert torch.allclose(engine.step(io['obs']).output, io['expected'], atol=1e-6)
        loaded = sorted(m for m in ('peft', 'transformers') if m in sys.modules)
        print('loaded:', loaded)
        """)
    header = ('import sys\nimport torch\nfrom torch import nn\n'
              'from adapter_switcher.core import AdapterEngine\n')
    result = subprocess.run([sys.executable, '-c', header + script], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'loaded: []' in result.stdout
