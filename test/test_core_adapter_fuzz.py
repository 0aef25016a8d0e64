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
Malformed adapters (malformed_adapters.ADAPTER_CASES) and random damage (hypothesis).

Each one is rejected at scan with a reason naming the problem, cannot be activated, leaves the
active adapter and its outputs as they were, and nothing on disk changes.
"""

import copy
import shutil

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import EngineConfig
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from lora_fixtures import tiny_base
from lora_fixtures import tree_digest
from lora_fixtures import write_adapter
from malformed_adapters import ADAPTER_CASES
from malformed_adapters import WEIGHTS
import pytest
import torch

LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_fc']}


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    base = tiny_base()
    top = tmp_path_factory.mktemp('fuzz')
    root = top / 'adapters'
    write_adapter(base, root / 'good', seed=1, **LORA)
    directories = {}
    for i, (name, (breaker, _)) in enumerate(sorted(ADAPTER_CASES.items())):
        directory = write_adapter(base, root / name, seed=10 + i, **LORA)
        directories[name] = breaker(directory, root) or directory
    probe_x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2, max_rank=16),
                           probe_inputs=((probe_x,), {}))
    engine.activate('good')
    before = engine.step(probe_x).output.logits
    return engine, top, directories, probe_x, before, tree_digest(top)


def test_there_are_at_least_thirty_cases():
    assert len(ADAPTER_CASES) >= 30


def test_only_the_good_adapter_is_accepted(world):
    engine = world[0]
    assert [a.name for a in engine.adapters()] == ['good']


@pytest.mark.parametrize('case', sorted(ADAPTER_CASES))
def test_malformed_adapter_is_rejected_with_its_reason_and_changes_nothing(world, case):
    engine, top, directories, probe_x, before, digest = world
    expected = ADAPTER_CASES[case][1]
    reason = engine.rejections()[str(directories[case])]
    assert expected.lower() in reason.lower() and '\n' not in reason
    with pytest.raises(AdapterError):
        engine.activate(directories[case].name)
    assert engine.active == 'good'
    assert torch.equal(engine.step(probe_x).output.logits, before)
    assert tree_digest(top) == digest, 'the engine must never modify adapter files'


@pytest.fixture(scope='module')
def damage_site(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('damage')
    good = write_adapter(base, root / 'adapters' / 'good', seed=1, **LORA)
    pristine = root / 'pristine'
    shutil.copytree(good, pristine)
    probe_x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [root / 'adapters'],
                           EngineConfig(num_slots=2, max_rank=16), probe_inputs=((probe_x,), {}))
    engine.activate('good')
    return engine, root, pristine, probe_x, engine.step(probe_x).output.logits


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
       st.one_of(st.none(), st.integers(0, 20000)))
def test_random_damage_to_the_weights_is_rejected_or_harmless(damage_site, edits, cut):
    """Overwrite bytes of a copy's header region (and maybe truncate): reject, never raise."""
    engine, root, pristine, probe_x, before = damage_site
    victim = root / 'adapters' / 'victim'
    shutil.rmtree(victim, ignore_errors=True)
    shutil.copytree(pristine, victim)
    data = bytearray((victim / WEIGHTS).read_bytes())
    for offset, value in edits:
        data[offset % len(data)] = value
    if cut is not None:
        data = data[:cut]
    (victim / WEIGHTS).write_bytes(bytes(data))
    written = (victim / WEIGHTS).read_bytes()
    engine.scan()
    if 'victim' in [a.name for a in engine.adapters()]:
        engine.activate('victim')
        assert bool(torch.isfinite(engine.step(probe_x).output.logits).all())
        engine.activate('good')
    else:
        assert engine.rejections()[str(victim)]
    assert engine.active == 'good'
    assert torch.equal(engine.step(probe_x).output.logits, before)
    assert (victim / WEIGHTS).read_bytes() == written
