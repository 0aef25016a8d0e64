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
Small GPT-2 base models and PEFT LoRA adapters written the way users write them.

Adapters are made with ``peft.get_peft_model(...).save_pretrained(...)``, so the engine is
tested on the real PEFT format, never on hand-made files.
"""

import copy
import hashlib
from pathlib import Path
import random
from typing import Dict, Iterator, List, Optional, Tuple

from adapter_switcher.core.probe import output_tensors
from peft import get_peft_model
from peft import LoraConfig
from peft import PeftModel
import torch
from transformers import GPT2Config
from transformers import GPT2LMHeadModel

TINY = {'n_layer': 2, 'n_embd': 64, 'n_head': 4, 'vocab_size': 256, 'n_positions': 64,
        'bos_token_id': 0, 'eos_token_id': 0}
ALL = ['c_attn', 'c_proj', 'c_fc']

# Ranks, alphas, rsLoRA, target subsets and per-module patterns: the variety the engine must
# reproduce exactly.
ADAPTER_CONFIGS = {
    'nav_r8': {'r': 8, 'lora_alpha': 16, 'target_modules': ALL},
    'haz_r4': {'r': 4, 'lora_alpha': 32, 'target_modules': ALL},
    'rs_r16': {'r': 16, 'lora_alpha': 8, 'use_rslora': True, 'target_modules': ['c_attn', 'c_fc']},
    'attn_only': {'r': 2, 'lora_alpha': 4, 'target_modules': ['c_attn']},
    'patterned': {'r': 8, 'lora_alpha': 16, 'target_modules': ['c_attn', 'c_fc'],
                  'rank_pattern': {'c_fc': 4}, 'alpha_pattern': {'c_fc': 64}},
    'layer0_mlp': {'r': 6, 'lora_alpha': 6, 'target_modules': ['c_fc'],
                   'layers_to_transform': [0]},
}


def tiny_base(seed: int = 0) -> GPT2LMHeadModel:
    """Return a small random GPT-2 in eval mode (same seed, same weights)."""
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(**TINY)).eval()


def write_adapter(base, directory: Path, seed: int, **lora) -> Path:
    """Save a randomly initialised (non-zero) PEFT LoRA adapter for ``base`` to ``directory``."""
    torch.manual_seed(seed)
    config = LoraConfig(init_lora_weights=False, **lora)
    peft_model = get_peft_model(copy.deepcopy(base), config)
    peft_model.save_pretrained(str(directory))
    return directory


def write_adapters(base, root: Path, configs=None) -> Dict[str, Path]:
    """Write every adapter of ``configs`` (default ADAPTER_CONFIGS) under ``root``."""
    configs = ADAPTER_CONFIGS if configs is None else configs
    return {name: write_adapter(base, root / name, seed=100 + i, **cfg)
            for i, (name, cfg) in enumerate(sorted(configs.items()))}


def peft_reference(base, directory: Path) -> PeftModel:
    """Return stock PEFT's model for the adapter: what the engine must reproduce."""
    return PeftModel.from_pretrained(copy.deepcopy(base), str(directory)).eval()


def random_switches(engine, names: List[Optional[str]], inputs: list, count: int,
                    seed: int) -> Iterator[Tuple[Optional[str], int, object]]:
    """
    Switch to a random adapter (None: the base) and step on a random input, ``count`` times.

    Yield ``(name, input index, step output)``, after checking the step ran that adapter.
    """
    rng = random.Random(seed)
    for _ in range(count):
        name = rng.choice(names)
        engine.activate(name) if name else engine.deactivate()
        which = rng.randrange(len(inputs))
        result = engine.step(inputs[which])
        assert result.adapter == name
        yield name, which, result.output


def max_diff(output, expected) -> float:
    """Return the largest difference over every float tensor; the structures must agree."""
    got, want = output_tensors(output), output_tensors(expected)
    assert set(got) == set(want) and got
    return max(float((got[k] - want[k]).abs().max()) for k in got
               if want[k].is_floating_point())


def peft_with_all(base, dirs) -> PeftModel:
    """Return one PeftModel holding every adapter of ``dirs`` under its name."""
    names = sorted(dirs)
    model = PeftModel.from_pretrained(copy.deepcopy(base), str(dirs[names[0]]),
                                      adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(str(dirs[name]), adapter_name=name)
    return model.eval()


def tree_digest(root: Path) -> dict:
    """Return ``{relative path: sha256}`` of every file under ``root`` (did any change?)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}
