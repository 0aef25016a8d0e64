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
A KV cache never carries one adapter's keys and values into another adapter's forward.

The session's logits after every swap must equal stock PEFT run on the whole history with the
adapter then active, and the test first shows that reusing the other adapter's cache would not.
"""

import copy
import warnings

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.generation import cache_argument
from adapter_switcher.core.generation import GenerationSession
from lora_fixtures import peft_reference
from lora_fixtures import tiny_base
from lora_fixtures import write_adapter
import pytest
import torch
from transformers import Cache

TOLERANCE = 1e-4
SCRIPT = [('a', 6), ('a', 1), ('b', 1), ('b', 2), ('a', 1), (None, 1), ('b', 1)]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('adapters')
    models = {None: base}
    for i, name in enumerate(('a', 'b')):
        directory = write_adapter(base, root / name, seed=20 + i, r=8, lora_alpha=32,
                                  target_modules=['c_attn', 'c_proj'])
        models[name] = peft_reference(base, directory)
    return base, root, models


def _full_history_logits(model, history, new_tokens):
    with torch.no_grad():
        return model(input_ids=history).logits[:, -new_tokens:]


def test_stale_cache_would_be_wrong(setup):
    _, _, models = setup
    torch.manual_seed(0)
    prompt, nxt = torch.randint(0, 256, (1, 6)), torch.randint(0, 256, (1, 1))
    keyword = cache_argument(models['a'].get_base_model())
    with torch.no_grad():
        cache = getattr(models['a'](input_ids=prompt, use_cache=True), keyword)
        stale = models['b'](input_ids=nxt, **{keyword: cache}).logits
    correct = _full_history_logits(models['b'], torch.cat([prompt, nxt], 1), 1)
    assert (stale - correct).abs().max() > 1e-3


@pytest.mark.parametrize('policy', ['flush', 'per_adapter'])
def test_session_matches_full_recompute_across_swaps(setup, policy):
    """Also: the caches are transformers Cache objects, no legacy past_key_values tuples."""
    base, root, models = setup
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2),
                           probe_inputs=((torch.zeros(1, 4, dtype=torch.long),), {}))
    session = GenerationSession(engine, policy=policy)
    torch.manual_seed(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for adapter, count in SCRIPT:
            engine.activate(adapter) if adapter else engine.deactivate()
            tokens = torch.randint(0, 256, (1, count))
            result = session.feed(tokens)
            assert result.adapter == adapter
            expected = _full_history_logits(models[adapter], session.history, count)
            assert (result.output - expected).abs().max() <= TOLERANCE, (policy, adapter)
            cache = session.cache_for(adapter)
            assert isinstance(cache, Cache)
            assert cache.get_seq_length() == session.history.shape[1]
    assert [str(w.message) for w in caught if 'past_key_values' in str(w.message)] == []


def test_per_adapter_caches_recompute_less_than_flush(setup):
    base, root, _ = setup
    recomputed = {}
    for policy in ('flush', 'per_adapter'):
        engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2),
                               probe_inputs=((torch.zeros(1, 4, dtype=torch.long),), {}))
        session = GenerationSession(engine, policy=policy)
        for adapter, count in SCRIPT:
            engine.activate(adapter) if adapter else engine.deactivate()
            session.feed(torch.ones(1, count, dtype=torch.long))
        recomputed[policy] = session.recomputed_tokens
    assert 0 < recomputed['per_adapter'] < recomputed['flush']


def test_session_rejects_bad_token_shapes(setup):
    base, root, _ = setup
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2))
    session = GenerationSession(engine)
    with pytest.raises(ValueError, match=r'shape \[1, n>0\]'):
        session.feed(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match='unknown KV cache policy'):
        GenerationSession(engine, policy='keep')
