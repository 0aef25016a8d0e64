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
Incremental generation with a KV cache that never outlives its adapter.

Keys and values cached by a causal LM were computed through the adapter active at the time;
reusing them after a swap would mix two adapters in one attention pass. A
:class:`GenerationSession` keeps the token history and, per step, the cache of the adapter that
runs the step: with ``policy='flush'`` any swap drops the cache and the new adapter re-encodes
the history; with ``policy='per_adapter'`` each adapter keeps its own cache and only catches up
on the tokens added since it last ran.

The caches are transformers ``Cache`` objects (a :class:`~transformers.DynamicCache` per
adapter), not legacy tuples, passed as the model's ``cache`` argument where it has one
(transformers 5: ``past_key_values`` is deprecated there and removed in 5.40) and as
``past_key_values`` on older versions. transformers is imported only when a session runs, so
the core stays importable without it.
"""

import inspect
from typing import Dict, Optional, Tuple

from adapter_switcher.core.engine import AdapterEngine
from adapter_switcher.core.engine import StepResult

import torch
from torch import nn

POLICIES = ('flush', 'per_adapter')


class GenerationSession:
    """Feeds tokens to a causal LM through the engine, keyed KV caches per adapter."""

    def __init__(self, engine: AdapterEngine, policy: str = 'flush'):
        if policy not in POLICIES:
            raise ValueError(f'unknown KV cache policy {policy!r}; use one of {POLICIES}')
        self.engine = engine
        self.policy = policy
        self.history = torch.empty(1, 0, dtype=torch.long)
        self._caches: Dict[Optional[str], Tuple[object, int]] = {}
        self.recomputed_tokens = 0

    def feed(self, token_ids: torch.Tensor) -> StepResult:
        """Append ``token_ids`` ([1, n]) and return the step; output = their logits [1, n, V]."""
        if token_ids.dim() != 2 or token_ids.shape[0] != 1 or token_ids.shape[1] == 0:
            raise ValueError(f'token_ids must have shape [1, n>0], got {list(token_ids.shape)}')
        self.history = torch.cat([self.history, token_ids.to(torch.long)], dim=1)
        new_tokens = token_ids.shape[1]
        return self.engine.run(lambda model, adapter: self._forward(model, adapter, new_tokens))

    def _forward(self, model: nn.Module, adapter: Optional[str], new_tokens: int):
        if self.policy == 'flush' and adapter not in self._caches:
            self._caches.clear()
        cache, cached_len = self._caches.get(adapter) or (_new_cache(), 0)
        pending = self.history[:, cached_len:]
        self.recomputed_tokens += pending.shape[1] - new_tokens
        keyword = cache_argument(model)
        output = model(input_ids=pending, use_cache=True, **{keyword: cache})
        self._caches[adapter] = (getattr(output, keyword), self.history.shape[1])
        return output.logits[:, -new_tokens:]

    def cache_for(self, adapter: Optional[str]):
        """Return the Cache kept for ``adapter`` (None: the base), or None if it has none."""
        entry = self._caches.get(adapter)
        return None if entry is None else entry[0]

    def reset(self) -> None:
        """Forget the history and every cache."""
        self.history = self.history[:, :0]
        self._caches.clear()


def cache_argument(model: nn.Module) -> str:
    """Return the name under which ``model`` takes and returns its KV cache."""
    parameters = inspect.signature(model.forward).parameters
    return 'cache' if 'cache' in parameters else 'past_key_values'


def _new_cache():
    from transformers import DynamicCache
    return DynamicCache()
