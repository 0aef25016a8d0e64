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
The frozen base model: built once, from a local Hugging Face directory or a Python factory.

``BaseModelSpec`` names where the model comes from: ``hf_dir`` (a transformers model directory,
loaded offline from safetensors only), or ``factory`` (``package.module:function`` returning a
``torch.nn.Module``) plus optional ``weights`` (a safetensors state dict, loaded strictly).
``model_fingerprint`` hashes the architecture and the weights so an adapter's manifest can say
which base it was trained for, and the registry can refuse it on any other.
"""

from dataclasses import dataclass
import hashlib
import importlib
import json
from pathlib import Path
from typing import Optional

from adapter_switcher.core.errors import BaseModelError

from safetensors import SafetensorError
from safetensors.torch import load_model
import torch
from torch import nn


@dataclass(frozen=True)
class BaseModelSpec:
    """Where the base model comes from: ``hf_dir``, or ``factory`` plus optional ``weights``."""

    hf_dir: Optional[str] = None
    factory: Optional[str] = None
    weights: Optional[str] = None


def load_base_model(spec: BaseModelSpec) -> nn.Module:
    """Build the base model in eval mode with gradients off; raise BaseModelError if it fails."""
    if bool(spec.hf_dir) == bool(spec.factory):
        raise BaseModelError('give exactly one of hf_dir or factory for the base model')
    model = _from_hf_dir(spec.hf_dir) if spec.hf_dir else _from_factory(spec.factory)
    if spec.weights:
        _load_weights(model, spec.weights)
    model.eval()
    model.requires_grad_(False)
    return model


def _from_hf_dir(directory: str) -> nn.Module:
    path = Path(directory)
    config_file = path / 'config.json'
    if not config_file.is_file():
        raise BaseModelError(f'{directory} is not a transformers model directory (no config.json)')
    import transformers
    try:
        architectures = json.loads(config_file.read_text()).get('architectures') or []
    except json.JSONDecodeError as error:
        raise BaseModelError(f'{config_file} is not valid JSON: {error}') from None
    model_class = getattr(transformers, architectures[0], None) if architectures else None
    if model_class is None:
        model_class = transformers.AutoModel
    try:
        return model_class.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise BaseModelError(f'cannot load the model in {directory}: {error}') from None


def _from_factory(factory: str) -> nn.Module:
    module_name, _, function_name = factory.partition(':')
    if not module_name or not function_name:
        raise BaseModelError(f"factory {factory!r} must look like 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise BaseModelError(f'cannot import the factory {factory!r}: {error}') from None
    if not callable(function):
        raise BaseModelError(f'factory {factory!r} is a {type(function).__name__}, not a function')
    try:
        model = function()
    except TypeError as error:
        raise BaseModelError(f'cannot call the factory {factory!r}: {error}') from None
    if not isinstance(model, nn.Module):
        raise BaseModelError(f'factory {factory!r} returned {type(model).__name__}, not a Module')
    return model


def _load_weights(model: nn.Module, weights: str) -> None:
    """Load a safetensors state dict strictly (tied weights stored once are fine)."""
    if not weights.endswith('.safetensors'):
        raise BaseModelError(f'base weights {weights!r} must be a .safetensors file (no pickle)')
    try:
        missing, unexpected = load_model(model, weights, strict=False)
    except (OSError, SafetensorError) as error:
        raise BaseModelError(f'cannot read base weights {weights}: {error}') from None
    except RuntimeError as error:  # shape mismatches, from load_state_dict
        reason = str(error).splitlines()[-1].strip()
        raise BaseModelError(f'base weights {weights} do not fit the model: {reason}') from None
    problems = []
    if missing:
        problems.append(f'missing {sorted(missing)[:5]}')
    if unexpected:
        problems.append(f'unexpected {sorted(unexpected)[:5]}')
    if problems:
        raise BaseModelError(f'base weights {weights} do not fit the model: '
                             + '; '.join(problems))


def model_fingerprint(model: nn.Module) -> str:
    """Return ``sha256:<hex>`` over the module tree, tensor names, shapes, dtypes and values."""
    digest = hashlib.sha256()
    for name, module in model.named_modules():
        digest.update(f'{name}:{type(module).__qualname__};'.encode())
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    for name in sorted(tensors):
        tensor = tensors[name].detach()
        digest.update(f'{name}:{tuple(tensor.shape)}:{tensor.dtype};'.encode())
        digest.update(_tensor_bytes(tensor))
    return 'sha256:' + digest.hexdigest()


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.contiguous().cpu().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b''
