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
The inference node's start-up: base model, adapter engine and prefetcher from its parameters.

Kept apart from the node so the parameter -> engine mapping reads in one place; every problem
becomes a StartupError naming the parameter, which the node reports in one line.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelError
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.nodes.observation import blank_visuomotor
from adapter_switcher.nodes.observation import check_model_input
from adapter_switcher.nodes.observation import COMMANDS
from adapter_switcher.nodes.observation import OBSERVATIONS
from adapter_switcher.nodes.resolve import import_callable
from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.nodes.runner import StartupError

import torch


@dataclass
class EngineSetup:
    """What the node runs: the engine, its prefetcher (or None), and the model's I/O codecs."""

    engine: AdapterEngine
    prefetcher: Optional[Prefetcher]
    encode: Callable
    decode: Callable
    adapters_dirs: List[str]

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.cancel()
        self.engine.close()


def build_engine(params: Mapping[str, Any]) -> EngineSetup:
    """Build the base model and the engine described by the inference node's parameters."""
    observation = params['observation']
    if observation not in OBSERVATIONS:
        raise StartupError(f"observation: expected one of {', '.join(OBSERVATIONS)}, got "
                           f'{observation!r}')
    if params['command'] not in COMMANDS:
        raise StartupError(f"command: expected one of {', '.join(COMMANDS)}, got "
                           f"{params['command']!r}")
    if params['command'] == 'route_offset' and observation != 'visuomotor':
        raise StartupError("command 'route_offset' tracks the plan, which only observation "
                           f"'visuomotor' follows; got observation {observation!r}")
    try:
        encode = import_callable(params['observation_encoder'])
        decode = import_callable(params['action_decoder'])
    except ValueError as error:
        raise StartupError(f'observation_encoder/action_decoder: {error}') from None
    if params['torch_threads']:
        torch.set_num_threads(params['torch_threads'])
    hf_dir = params['model_hf_dir']
    weights = params['model_weights']
    spec = BaseModelSpec(
        hf_dir=str(resolve_path(hf_dir)) if hf_dir else None,
        factory=None if hf_dir else params['model_factory'],
        weights=str(resolve_path(weights)) if weights else None)
    if spec.weights and not resolve_path(weights).is_file():
        raise StartupError(
            f'model_weights {spec.weights} does not exist (make the demo assets with '
            '`adapter-switcher make-demo-adapters`, or set model_weights)')
    try:
        model = load_base_model(spec)
    except BaseModelError as error:
        raise StartupError(f'base model: {error}') from None
    probe = blank_visuomotor() if observation == 'visuomotor' else encode({})
    check_model_input(model, probe, observation)
    adapters_dirs = [str(resolve_path(d)) for d in params['adapters_dirs'] if d]
    missing = [d for d in adapters_dirs if not Path(d).is_dir()]
    if missing:
        raise StartupError(f'adapters_dirs: directory {missing[0]} does not exist')
    config = EngineConfig(num_slots=params['num_slots'], max_rank=params['max_rank'],
                          host_cache_bytes=params['host_cache_mb'] << 20, probe_ahead=True)
    try:
        engine = AdapterEngine(model, adapters_dirs, config,
                               probe_inputs=((probe,), {}))
    except (ValueError, OSError) as error:
        raise StartupError(f'adapter engine: {error}') from None
    prefetcher = Prefetcher(engine) if params['prefetch'] else None
    return EngineSetup(engine, prefetcher, encode, decode, adapters_dirs)
