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
Small bases of the kinds robots run, each with PEFT adapters of mixed ranks, alphas and rsLoRA.

A Llama-style causal LM (LoRA on attention, MLP and the token embedding), a ViT image encoder
whose output has no ``logits`` (LoRA on attention, MLP and the Conv2d patch projection) and a
small CNN policy (LoRA on Conv2d, a grouped Conv2d, Conv1d and Linear). All are built from
configs here, never downloaded. Each :class:`Zoo` entry gives the base, its adapter configs and
inputs; adapters are written with ``get_peft_model(...).save_pretrained`` (lora_fixtures).
"""

from dataclasses import dataclass
from typing import Callable, Dict, List

import torch
from torch import nn
from transformers import LlamaConfig
from transformers import LlamaForCausalLM
from transformers import ViTConfig
from transformers import ViTModel


class SmallCnn(nn.Module):
    """An image policy: strided, padded (reflect), grouped Conv2d, a Conv1d over rows, a head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, padding_mode='reflect')
        self.mix = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.rows = nn.Conv1d(64, 32, 3, padding=1)
        self.head = nn.Linear(32 * 8, 6)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(image))                     # [N, 8, 8, 8]
        x = torch.relu(self.mix(x))
        x = torch.relu(self.rows(x.flatten(1, 2)))           # [N, 64, 8] -> [N, 32, 8]
        return self.head(x.flatten(1))


@dataclass
class Zoo:
    """A base model factory, its adapter configs and inputs that exercise them."""

    build: Callable[[], nn.Module]
    adapters: Dict[str, dict]
    inputs: Callable[[], List[torch.Tensor]]


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)).eval()


def tiny_vit() -> ViTModel:
    torch.manual_seed(0)
    return ViTModel(ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        image_size=16, patch_size=4, num_channels=3)).eval()


def small_cnn() -> SmallCnn:
    torch.manual_seed(0)
    return SmallCnn().eval()


ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj']

ZOO = {
    'llama': Zoo(tiny_llama, {
        'attn_r8': {'r': 8, 'lora_alpha': 16, 'target_modules': ATTENTION},
        'mlp_rs': {'r': 4, 'lora_alpha': 8, 'use_rslora': True,
                   'target_modules': ['gate_proj', 'up_proj', 'down_proj']},
        'all_r2': {'r': 2, 'lora_alpha': 32, 'target_modules': ATTENTION + ['down_proj']},
        'embed_r6': {'r': 6, 'lora_alpha': 12, 'target_modules': ['embed_tokens', 'q_proj']},
        'embed_rs': {'r': 16, 'lora_alpha': 4, 'use_rslora': True,
                     'target_modules': ['embed_tokens']},
    }, lambda: [torch.randint(0, 128, (1, 12)), torch.randint(0, 128, (2, 7))]),
    'vit': Zoo(tiny_vit, {
        'attn_r4': {'r': 4, 'lora_alpha': 8, 'target_modules': ATTENTION},
        'mlp_rs': {'r': 8, 'lora_alpha': 4, 'use_rslora': True, 'target_modules': ['fc1', 'fc2']},
        'patch_r2': {'r': 2, 'lora_alpha': 16, 'target_modules': ['projection', 'q_proj']},
        'patterned': {'r': 6, 'lora_alpha': 6, 'target_modules': ATTENTION + ['fc1'],
                      'rank_pattern': {'fc1': 12}, 'alpha_pattern': {'q_proj': 30}},
    }, lambda: [torch.randn(1, 3, 16, 16), torch.randn(3, 3, 16, 16)]),
    'cnn': Zoo(small_cnn, {
        'conv_r4': {'r': 4, 'lora_alpha': 8, 'target_modules': ['stem', 'mix', 'rows']},
        'all_r6': {'r': 6, 'lora_alpha': 3, 'target_modules': ['stem', 'mix', 'rows', 'head']},
        'rs_r16': {'r': 16, 'lora_alpha': 8, 'use_rslora': True,
                   'target_modules': ['mix', 'head']},
        'stem_r2': {'r': 2, 'lora_alpha': 16, 'target_modules': ['stem', 'rows']},
        'patterned': {'r': 8, 'lora_alpha': 16, 'target_modules': ['stem', 'mix', 'rows', 'head'],
                      'rank_pattern': {'mix': 2, 'head': 12}, 'alpha_pattern': {'rows': 40}},
    }, lambda: [torch.randn(1, 3, 16, 16), torch.randn(2, 3, 16, 16)]),
}
