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
The policy server's arguments (the ``args:`` of its Serve config) and the engine they build.

The same names as the inference node's parameters, so one robot configuration moves to the
server unchanged. Relative paths are relative to the package share directory. Every problem is a
ValueError naming the argument, raised in the replica's constructor, so ``serve deploy`` reports
it instead of starting a replica that cannot serve.
"""

from dataclasses import dataclass
from dataclasses import fields
from typing import Any, Mapping, Tuple

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelError
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.nodes.resolve import import_callable
from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.serve.packed_linear import pack_linear_layers

import torch


@dataclass(frozen=True)
class ServerSettings:
    """One replica: its base model, adapter directories, and its slot and host-cache budgets."""

    model_factory: str = 'adapter_switcher.demo.policy_model:build_policy'
    model_hf_dir: str = ''
    model_weights: str = 'models/demo/base_policy.safetensors'
    # Called with no features ({}) to make the probe input a new adapter must pass.
    observation_encoder: str = 'adapter_switcher.demo.policy_model:encode_observation'
    adapters_dirs: Tuple[str, ...] = ('models/demo/adapters',)
    num_slots: int = 4
    max_rank: int = 16
    host_cache_mb: int = 256
    torch_threads: int = 1
    # Linear layers on oneDNN with weights packed once (packed_linear.py): batches pay on CPU.
    pack_linear: bool = True

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> 'ServerSettings':
        """Return the settings for ``args``; raise ValueError naming a bad or unknown one."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise ValueError(f'unknown server argument(s) {unknown}; known: {sorted(known)}')
        values = {}
        for name, value in args.items():
            default = known[name].default
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f'{name} must be true or false, got {value!r}')
            elif isinstance(default, tuple):
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f'{name} must be a list of paths, got {value!r}')
                value = tuple(value)
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f'{name} must be a non-negative integer, got {value!r}')
            elif not isinstance(value, str):
                raise ValueError(f'{name} must be a string, got {value!r}')
            values[name] = value
        settings = cls(**values)
        if settings.num_slots < 2:
            raise ValueError(f'num_slots must be >= 2, got {settings.num_slots}')
        return settings

    def engine_config(self) -> EngineConfig:
        """Return the engine's tier budgets: slots, their rank, host RAM."""
        return EngineConfig(num_slots=self.num_slots, max_rank=self.max_rank,
                            host_cache_bytes=self.host_cache_mb << 20)


def build_engine(settings: ServerSettings) -> Tuple[AdapterEngine, torch.Tensor]:
    """Build the base model and the engine; return it with its probe input."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    hf_dir, weights = settings.model_hf_dir, settings.model_weights
    spec = BaseModelSpec(hf_dir=str(resolve_path(hf_dir)) if hf_dir else None,
                         factory=None if hf_dir else settings.model_factory,
                         weights=str(resolve_path(weights)) if weights else None)
    try:
        model = load_base_model(spec)
        probe = import_callable(settings.observation_encoder)({})
    except (BaseModelError, ValueError) as error:
        raise ValueError(f'policy server: {error}') from None
    if not isinstance(probe, torch.Tensor):
        raise ValueError(f'observation_encoder returned {type(probe).__name__}, not a tensor')
    dirs = [str(resolve_path(d)) for d in settings.adapters_dirs if d]
    engine = AdapterEngine(model, dirs, settings.engine_config(), probe_inputs=((probe,), {}))
    if settings.pack_linear:
        pack_linear_layers(engine.model)
    return engine, probe
