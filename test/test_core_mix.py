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
Composition and hand-over: weighted sums of resident adapters, equal to PEFT's 'cat' merge.

``activate_mix`` is compared with ``PeftModel.add_weighted_adapter(..., combination_type='cat')``
(the exact weighted sum of the adapters' LoRA deltas; PEFT's 'linear' multiplies the summed
A by the summed B and so adds cross terms, which no sum of deltas reproduces). A hand-over
(``request(name, blend_ticks=N)``) runs those same mixes tick by tick; ``blend_ticks=0`` is the
plain switch, bit for bit.
"""

import copy

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import UnknownAdapter
from lora_fixtures import max_diff
from lora_fixtures import peft_with_all
from lora_fixtures import tiny_base
from lora_fixtures import write_adapters
from model_zoo import ZOO
import pytest
import torch

TOLERANCE = 1e-5
MIXES = {
    'gpt2': (tiny_base, None, lambda: torch.randint(0, 256, (2, 10)),
             [{'nav_r8': 0.7, 'haz_r4': 0.3},
              {'nav_r8': 0.5, 'rs_r16': -0.25, 'attn_only': 1.5}]),
    'llama': (ZOO['llama'].build, ZOO['llama'].adapters, lambda: torch.randint(0, 128, (2, 9)),
              [{'attn_r8': 0.6, 'embed_rs': 0.4},
               {'embed_r6': 0.2, 'mlp_rs': 0.3, 'all_r2': 0.9}]),
}


@pytest.fixture(scope='module', params=sorted(MIXES))
def world(request, tmp_path_factory):
    build, configs, make_input, mixes = MIXES[request.param]
    base = build()
    root = tmp_path_factory.mktemp(request.param)
    dirs = write_adapters(base, root, configs)
    torch.manual_seed(2)
    return base, root, dirs, make_input(), mixes


def engine_for(base, root, x, num_slots=4):
    return AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=num_slots),
                         probe_inputs=((x,), {}))


def test_mix_matches_peft_add_weighted_adapter_cat(world):
    base, root, dirs, x, mixes = world
    peft_model = peft_with_all(base, dirs)
    engine = engine_for(base, root, x, num_slots=5)     # the old mix runs until the new one
    for i, mix in enumerate(mixes):
        peft_model.add_weighted_adapter(list(mix), list(mix.values()), f'cat{i}',
                                        combination_type='cat')
        peft_model.set_adapter(f'cat{i}')
        with torch.no_grad():
            expected = peft_model(x)
        report = engine.activate_mix(mix)
        assert engine.mix == mix and report.active == engine.active
        assert engine.active.startswith('mix(')
        diff = max_diff(engine.step(x).output, expected)
        assert diff <= TOLERANCE, f'{mix}: max abs diff {diff} vs PEFT cat'
        assert max_diff(expected, first_alone(engine, mix, x)) > 1e-4, 'mix must matter'


def first_alone(engine, mix, x):
    """Return the output of the mix's first adapter alone, then restore the mix."""
    engine.activate(next(iter(mix)))
    output = engine.step(x).output
    engine.activate_mix(mix)
    return output


def test_bad_mixes_are_refused_and_change_nothing(world):
    base, root, dirs, x, mixes = world
    engine = engine_for(base, root, x, num_slots=2)
    first = sorted(dirs)[0]
    engine.activate(first)
    before = engine.step(x).output
    for bad, message in (({}, 'at least one adapter'),
                         ({first: float('nan')}, 'must be a finite number'),
                         ({first: 1.0, 'nope': 1.0}, "unknown adapter 'nope'"),
                         (dict.fromkeys(sorted(dirs)[:3], 0.3), 'has 2 slots')):
        with pytest.raises(AdapterError, match=message):
            engine.activate_mix(bad)
        assert engine.active == first and engine.mix is None
        assert max_diff(engine.step(x).output, before) == 0.0
    with pytest.raises(UnknownAdapter):
        engine.request('nope', blend_ticks=2)
    with pytest.raises(ValueError, match='blend_ticks'):
        engine.request(first, blend_ticks=-1)


def test_mix_ends_on_switch_and_rollback_skips_it(world):
    base, root, dirs, x, mixes = world
    names = sorted(dirs)
    engine = engine_for(base, root, x)
    engine.activate(names[0])
    engine.activate_mix(mixes[0])
    engine.activate(names[1])
    assert engine.mix is None and engine.active == names[1]
    engine.rollback()
    assert engine.active == names[0]


def test_blend_ticks_zero_is_bit_identical_to_a_plain_switch(world):
    base, root, dirs, x, _ = world
    names = sorted(dirs)
    plain, blended = engine_for(base, root, x), engine_for(base, root, x)
    for name in names[:3] + names[:1]:
        plain.request(name)
        blended.request(name, blend_ticks=0)
        for engine in (plain, blended):
            assert engine.worker.wait_idle(30.0)
        for _ in range(2):
            a, b = plain.step(x), blended.step(x)
            assert a.adapter == b.adapter == name
            assert max_diff(a.output, b.output) == 0.0


def test_hand_over_runs_linear_mixes_then_the_new_adapter(world):
    base, root, dirs, x, mixes = world
    old, new = list(mixes[0])
    engine, reference = engine_for(base, root, x), engine_for(base, root, x)
    engine.activate(old)
    engine.step(x)
    engine.request(new, blend_ticks=3)
    assert engine.worker.wait_idle(30.0)
    for tick in range(1, 5):
        result = engine.step(x)
        assert result.adapter == new and (result.swap is not None) == (tick == 1)
        if tick <= 3:
            t = tick / 4
            reference.activate_mix({old: 1 - t, new: t})
        else:
            reference.activate(new)
        diff = max_diff(result.output, reference.step(x).output)
        assert diff <= 1e-6, f'tick {tick}: {diff}'
    assert engine.mix is None
    engine.rollback()
    assert engine.active == old
