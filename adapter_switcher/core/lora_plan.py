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
Where an adapter's weights go: per target module, its rank, scaling and tensor keys.

The rules are PEFT's (restated without importing it in :mod:`lora_config`, tested against it):
``check_target_module_exists`` decides which modules a config targets, ``get_pattern_key``
resolves ``rank_pattern``/``alpha_pattern``, and the scaling is ``lora_alpha / r`` or
``lora_alpha / sqrt(r)`` with ``use_rslora``, as ``LoraLayer.update_layer`` computes it.
Anything that would make PEFT compute something other than plain ``base(x) + B(A(x)) * scaling``
(DoRA and other variants, LoRA bias, modules_to_save, ...) is refused with its name, so the
engine never silently disagrees with PEFT.

The layer types are PEFT's too, with the shapes its LoRA layers save: Linear and GPT-2's Conv1D
(A ``[r, in]``, B ``[out, r]``), ``nn.Conv1d/2d/3d`` (A a conv with the layer's kernel, B a
1x1 conv grouped like the layer) and ``nn.Embedding`` (``lora_embedding_A [r, num]``,
``lora_embedding_B [dim, r]``). Any other layer type is refused with its name.
"""

from dataclasses import dataclass
import math
import sys
from typing import Dict, Mapping, Optional, Tuple

from adapter_switcher.core.lora_config import LoraSettings
import torch
from torch import nn

_PEFT_PREFIX = 'base_model.model.'
_CONV_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_LINEAR_KEYS = ('lora_A', 'lora_B')
_EMBEDDING_KEYS = ('lora_embedding_A', 'lora_embedding_B')
_BASE_LAYER = 'base_layer'
SUPPORTED_LAYERS = 'Linear, Conv1D, Conv1d, Conv2d, Conv3d and Embedding'


class AdapterPlanError(ValueError):
    """The adapter does not fit the base model or uses a LoRA feature the engine cannot run."""


@dataclass(frozen=True)
class ModulePlan:
    """One target module: where its A and B weights are in the file, and how to scale them."""

    rank: int
    scaling: float
    a_key: str
    b_key: str
    base_key: Optional[str] = None


@dataclass(frozen=True)
class AdapterPlan:
    """Every module an adapter changes, by module name in the base model."""

    modules: Dict[str, ModulePlan]

    @property
    def max_rank(self) -> int:
        return max((m.rank for m in self.modules.values()), default=0)


def layer_features(module: nn.Module) -> Tuple[int, int]:
    """Return ``(in, out)`` as PEFT counts them: features, channels or (num, dim) embeddings."""
    if isinstance(module, nn.Linear) or is_int8_dynamic(module):
        return module.in_features, module.out_features
    if isinstance(module, _CONV_LAYERS):
        return module.in_channels, module.out_channels
    if isinstance(module, nn.Embedding):
        return module.num_embeddings, module.embedding_dim
    in_features, out_features = module.weight.shape  # Conv1D stores (in, out)
    return in_features, out_features


def is_int8_dynamic(module: nn.Module) -> bool:
    """
    Return whether ``module`` is a Linear of torch's dynamic quantization (int8 weights).

    It computes in float32 (activations are quantized on the fly inside the layer), so its
    LoRA runs in float32 beside it. torch.ao is not imported for this check.
    """
    dynamic = sys.modules.get('torch.ao.nn.quantized.dynamic')
    return dynamic is not None and isinstance(module, dynamic.Linear)


def slot_options(module: nn.Module) -> dict:
    """Return the dtype and device the layer computes in: those of its LoRA slots."""
    if is_int8_dynamic(module):
        return {'dtype': torch.float32, 'device': torch.device('cpu')}
    return {'dtype': module.weight.dtype, 'device': module.weight.device}


def is_linear(module: nn.Module) -> bool:
    """
    Return whether ``module`` is a Linear or a transformers Conv1D.

    transformers is not imported for this: if it is not loaded, no module can be its Conv1D.
    """
    if isinstance(module, nn.Linear) or is_int8_dynamic(module):
        return True
    pytorch_utils = sys.modules.get('transformers.pytorch_utils')
    return pytorch_utils is not None and isinstance(module, pytorch_utils.Conv1D)


def layer_problem(module: nn.Module) -> Optional[str]:
    """Return why the engine cannot run LoRA on this layer, or None if it can."""
    if is_int8_dynamic(module):
        return None
    if type(module).__module__.startswith('torch.ao.nn.quantized'):
        return ('statically quantized layers take quantized tensors: quantize the base with '
                'torch.ao.quantization.quantize_dynamic (int8 weights, float compute) instead')
    weight = getattr(module, 'weight', None)
    if isinstance(weight, torch.Tensor) and not weight.is_floating_point():
        return (f'weights of dtype {weight.dtype}: LoRA runs on float layers (fp32, bf16, fp16) '
                'and on torch dynamic int8 Linear')
    if isinstance(module, _CONV_LAYERS):
        if any(d != 1 for d in module.dilation):
            return (f'dilation {tuple(module.dilation)}: the LoRA conv of PEFT has no '
                    'dilation, so its output would not line up with the layer output')
        return None
    if is_linear(module):
        return None
    if isinstance(module, nn.Embedding):
        if module.max_norm is not None:
            return ('max_norm: the embedding lookup would renormalise the adapter weights '
                    'in place')
        return None
    return f'only {SUPPORTED_LAYERS} layers are supported'


def lora_key_names(module: nn.Module) -> Tuple[str, str]:
    """Return the names PEFT saves the layer's A and B under."""
    return _EMBEDDING_KEYS if isinstance(module, nn.Embedding) else _LINEAR_KEYS


def expected_shapes(module: nn.Module, rank: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Return the shapes of A and B that PEFT saves for a LoRA of ``rank`` on this layer."""
    in_features, out_features = layer_features(module)
    if isinstance(module, _CONV_LAYERS):
        ones = (1,) * len(module.kernel_size)
        return ((rank, in_features) + tuple(module.kernel_size),
                (out_features, rank // module.groups) + ones)
    return (rank, in_features), (out_features, rank)


def plan_adapter(config: LoraSettings, shapes: Mapping[str, Tuple[int, ...]],
                 modules: Mapping[str, nn.Module], max_rank: int) -> AdapterPlan:
    """
    Check an adapter against the base model and return where its weights go.

    ``shapes`` maps the safetensors keys to tensor shapes; ``modules`` is the base model's
    ``named_modules()`` taken before any wrapping. Raise AdapterPlanError naming the module
    and the problem.
    """
    unsupported = config.unsupported
    if unsupported:
        raise AdapterPlanError(
            f'uses LoRA features the engine does not run: {", ".join(unsupported)}')
    targeted = [name for name in modules if name and config.targets(name)]
    if not targeted:
        raise AdapterPlanError(
            f'target_modules {_describe(config.target_modules)} match no module of the base model')
    for name in targeted:
        problem = layer_problem(modules[name])
        if problem is not None:
            raise AdapterPlanError(f'targets {name} ({type(modules[name]).__name__}): {problem}')
    by_module = _group_keys(shapes)
    unknown = sorted(set(by_module) - set(modules))
    if unknown:
        raise AdapterPlanError(f'has weights for unknown target modules {unknown[:5]}: '
                               'the base model has no modules with these names')
    untargeted = sorted(set(by_module) - set(targeted))
    if untargeted:
        raise AdapterPlanError(
            f'has weights for modules its config does not target: {untargeted[:5]}')
    plans = {}
    for name in targeted:
        module = modules[name]
        if name not in by_module:
            raise AdapterPlanError(f'has no weights for targeted module {name}')
        plans[name] = _plan_module(config, name, module, by_module[name], shapes, max_rank)
    return AdapterPlan(plans)


def _plan_module(config: LoraSettings, name: str, module: nn.Module, keys: Dict[str, str],
                 shapes: Mapping[str, Tuple[int, ...]], max_rank: int) -> ModulePlan:
    a_name, b_name = lora_key_names(module)
    base_key = keys.pop(_BASE_LAYER, None)
    if base_key is not None and (not isinstance(module, nn.Embedding)
                                 or tuple(shapes[base_key]) != tuple(module.weight.shape)):
        raise AdapterPlanError(
            f'module {name} ({type(module).__name__}): saves its own base layer weight '
            f'{list(shapes[base_key])}, which this engine cannot share with the base model')
    if set(keys) != {a_name, b_name}:
        raise AdapterPlanError(
            f'module {name} ({type(module).__name__}) has weights {sorted(keys)}, expected '
            f'{a_name} and {b_name}')
    rank, alpha = config.rank_of(name), config.alpha_of(name)
    if not isinstance(rank, int) or rank <= 0:
        raise AdapterPlanError(f'module {name}: rank {rank!r} is not a positive integer')
    if rank > max_rank:
        raise AdapterPlanError(
            f'module {name}: rank {rank} is above the engine max_rank {max_rank}')
    groups = getattr(module, 'groups', 1)
    if rank % groups:
        raise AdapterPlanError(f'module {name}: rank {rank} is not divisible by the layer '
                               f'groups={groups}, as PEFT requires')
    in_features, out_features = layer_features(module)
    a_shape, b_shape = tuple(shapes[keys[a_name]]), tuple(shapes[keys[b_name]])
    want_a, want_b = expected_shapes(module, rank)
    if (a_shape, b_shape) != (want_a, want_b):
        raise AdapterPlanError(
            f'module {name}: shapes {a_name} {list(a_shape)} / {b_name} {list(b_shape)} do not '
            f'match rank {rank} and the layer ({in_features} -> {out_features}), expected '
            f'{list(want_a)} / {list(want_b)}')
    scaling = alpha / math.sqrt(rank) if config.use_rslora else alpha / rank
    return ModulePlan(rank, float(scaling), keys[a_name], keys[b_name], base_key)


def _group_keys(shapes: Mapping[str, Tuple[int, ...]]) -> Dict[str, Dict[str, str]]:
    """Group PEFT state-dict keys by module: ``{module: {'lora_A': key, 'lora_B': key}}``."""
    grouped: Dict[str, Dict[str, str]] = {}
    for key in shapes:
        stem = key[len(_PEFT_PREFIX):] if key.startswith(_PEFT_PREFIX) else key
        parts = stem.split('.')
        if len(parts) >= 3 and parts[-2:] == [_BASE_LAYER, 'weight']:
            # save_pretrained stores a targeted embedding's whole weight (resizable vocab)
            grouped.setdefault('.'.join(parts[:-2]), {})[_BASE_LAYER] = key
            continue
        if len(parts) >= 2 and parts[-1] in _EMBEDDING_KEYS:
            grouped.setdefault('.'.join(parts[:-1]), {})[parts[-1]] = key
            continue
        if len(parts) < 3 or parts[-1] != 'weight' or parts[-2] not in _LINEAR_KEYS:
            raise AdapterPlanError(f'unexpected tensor {key!r}: not a LoRA A/B weight')
        grouped.setdefault('.'.join(parts[:-2]), {})[parts[-2]] = key
    return grouped


def _describe(target_modules) -> str:
    if isinstance(target_modules, str):
        return repr(target_modules)
    return str(sorted(target_modules or []))
