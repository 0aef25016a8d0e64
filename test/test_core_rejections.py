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
Every way an adapter can be bad is refused with a message naming the problem.

For each broken adapter the test checks the rejection reason from the scan, the error that
``activate`` raises, that the adapter that was active stays active and keeps producing the same
output, and that nothing on disk changed.
"""

import copy
import json
import os
from pathlib import Path
import shutil

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterRejected
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import InvalidAdapterName
from adapter_switcher.core import model_fingerprint
from adapter_switcher.core import ProbeFailed
from adapter_switcher.core import UnknownAdapter
from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.core.probe import probe_tensors
from lora_fixtures import tiny_base
from lora_fixtures import tree_digest
from lora_fixtures import write_adapter
import pytest
from safetensors.torch import load_file
from safetensors.torch import save_file
import torch

LORA = {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_fc']}
WEIGHTS = 'adapter_model.safetensors'


def _edit_weights(directory: Path, edit) -> None:
    tensors = load_file(str(directory / WEIGHTS))
    edit(tensors)
    save_file(tensors, str(directory / WEIGHTS), metadata={'format': 'pt'})


def _first_key(tensors, part):
    return next(k for k in sorted(tensors) if part in k)


def _missing_config(d):
    (d / 'adapter_config.json').unlink()


def _corrupt_config(d):
    (d / 'adapter_config.json').write_text('{"peft_type": "LORA", "r": ')


def _truncated_weights(d):
    path = d / WEIGHTS
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _nan_weights(d):
    def edit(tensors):
        tensors[_first_key(tensors, 'lora_B')][0, 0] = float('nan')
    _edit_weights(d, edit)


def _wrong_shapes(d):
    def edit(tensors):
        key = _first_key(tensors, 'lora_A')
        tensors[key] = torch.randn(tensors[key].shape[0] + 1, tensors[key].shape[1])
    _edit_weights(d, edit)


def _unknown_module_weights(d):
    def edit(tensors):
        key = _first_key(tensors, 'c_attn.lora_A')
        tensors[key.replace('h.0.', 'h.7.')] = tensors.pop(key)
    _edit_weights(d, edit)


def _unknown_target_config(d):
    config = json.loads((d / 'adapter_config.json').read_text())
    config['target_modules'] = ['q_proj', 'v_proj']
    (d / 'adapter_config.json').write_text(json.dumps(config))


def _pickle_weights(d):
    tensors = load_file(str(d / WEIGHTS))
    torch.save(tensors, str(d / 'adapter_model.bin'))
    (d / WEIGHTS).unlink()


def _dora(d):
    config = json.loads((d / 'adapter_config.json').read_text())
    config['use_dora'] = True
    (d / 'adapter_config.json').write_text(json.dumps(config))


def _manifest_hash_mismatch(d):
    write_manifest(d, version='1.0')
    _nan_weights_free_edit(d)


def _nan_weights_free_edit(d):
    def edit(tensors):
        key = _first_key(tensors, 'lora_B')
        tensors[key] = tensors[key] * 2
    _edit_weights(d, edit)


def _wrong_fingerprint(d):
    write_manifest(d, version='1.0', base_fingerprint='sha256:' + '0' * 64)


BROKEN = {
    'missing_config': (_missing_config, 'adapter_config.json is missing'),
    'corrupt_config': (_corrupt_config, 'not readable JSON'),
    'truncated': (_truncated_weights, 'truncated'),
    'nan_weights': (_nan_weights, 'non-finite values'),
    'wrong_shapes': (_wrong_shapes, 'do not match rank'),
    'unknown_module': (_unknown_module_weights, 'unknown target modules'),
    'unknown_target': (_unknown_target_config, 'match no module of the base model'),
    'pickle': (_pickle_weights, 'pickle weights refused (adapter_model.bin)'),
    'dora': (_dora, 'use_dora'),
    'hash_mismatch': (_manifest_hash_mismatch, 'does not match its sha256'),
    'wrong_base': (_wrong_fingerprint, 'trained for base sha256:0000000000'),
}


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    base = tiny_base()
    root = tmp_path_factory.mktemp('adapters')
    write_adapter(base, root / 'good', seed=1, **LORA)
    write_adapter(base, root / 'other', seed=2, **LORA)
    write_adapter(base, root / 'rank32', seed=3, r=32, lora_alpha=8, target_modules=['c_fc'])
    for i, (name, (breaker, _)) in enumerate(sorted(BROKEN.items())):
        directory = write_adapter(base, root / name, seed=10 + i, **LORA)
        breaker(directory)
    evil = write_adapter(base, root / 'evil', seed=40, **LORA)
    write_manifest(evil, name='../escape')
    probe_x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [root], EngineConfig(num_slots=2, max_rank=16),
                           probe_inputs=((probe_x,), {}),
                           base_fingerprint=model_fingerprint(base))
    engine.activate('good')
    before = engine.step(probe_x).output.logits
    return engine, root, probe_x, before, tree_digest(root)


def _assert_unchanged(world):
    engine, root, probe_x, before, digest = world
    assert engine.active == 'good'
    assert torch.equal(engine.step(probe_x).output.logits, before)
    assert tree_digest(root) == digest, 'the engine must never modify adapter files'


@pytest.mark.parametrize('name', sorted(BROKEN))
def test_broken_adapter_is_rejected_with_reason(world, name):
    engine, root = world[0], world[1]
    expected = BROKEN[name][1]
    assert expected in engine.rejections()[str(root / name)]
    with pytest.raises(AdapterRejected) as raised:
        engine.activate(name)
    assert f"adapter '{name}' rejected" in str(raised.value) and expected in str(raised.value)
    with pytest.raises(AdapterRejected):
        engine.request(name)
    _assert_unchanged(world)


def test_rank_above_max_is_rejected(world):
    engine = world[0]
    with pytest.raises(AdapterRejected, match='rank 32 is above the engine max_rank 16'):
        engine.activate('rank32')
    _assert_unchanged(world)


@pytest.mark.parametrize('name', ['../good', 'good/../good', 'a/b', '..', 'x\\y', '', ' good'])
def test_names_that_could_be_paths_are_refused(world, name):
    engine = world[0]
    with pytest.raises(InvalidAdapterName) as raised:
        engine.activate(name)
    assert 'adapter name' in str(raised.value)
    with pytest.raises(InvalidAdapterName):
        engine.request(name)
    _assert_unchanged(world)


def test_manifest_name_with_path_is_rejected(world):
    engine, root = world[0], world[1]
    reasons = engine.rejections()
    assert "path separators or '..'" in reasons[str(root / 'evil')]
    assert '../escape' not in [a.name for a in engine.adapters()]


def test_unknown_adapter_lists_known_ones(world):
    engine = world[0]
    with pytest.raises(UnknownAdapter, match="unknown adapter 'nope' .*good.*other"):
        engine.activate('nope')
    _assert_unchanged(world)


def test_file_corrupted_after_scan_is_caught_at_load(world, tmp_path):
    engine, root = world[0], world[1]
    copy_dir = root / 'late_damage'
    shutil.copytree(root / 'other', copy_dir)
    engine.scan()
    assert 'late_damage' in [a.name for a in engine.adapters()]
    _truncated_weights(copy_dir)
    with pytest.raises(AdapterRejected, match='truncated'):
        engine.activate('late_damage')
    assert 'truncated' in engine.rejections()[str(copy_dir)]
    shutil.rmtree(copy_dir)
    engine.scan()
    _assert_unchanged(world)


def test_probe_failure_keeps_previous_adapter(tmp_path):
    base = tiny_base()
    write_adapter(base, tmp_path / 'fine', seed=1, **LORA)
    huge = write_adapter(base, tmp_path / 'huge', seed=2, **LORA)
    _edit_weights(huge, lambda t: t.update({k: v * 1e30 for k, v in t.items()}))
    x = torch.randint(0, 256, (1, 8))
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((x,), {}))
    engine.activate('fine')
    before = engine.step(x).output.logits
    with pytest.raises(ProbeFailed, match="adapter 'huge' failed its probe: .* NaN or inf"):
        engine.activate('huge')
    assert engine.active == 'fine' and torch.equal(engine.step(x).output.logits, before)
    assert engine.metrics_dict()['probe_failures'] == 1


def test_manifest_probe_checks_expected_output(tmp_path):
    base = tiny_base()
    x = torch.randint(0, 256, (1, 8))
    for name, scale in (('honest', 1.0), ('liar', 3.0)):
        directory = write_adapter(base, tmp_path / name, seed=5, **LORA)
        with torch.no_grad():
            tensors = probe_tensors(x, base(x))
        tensors["output['logits']"] *= scale
        save_file(tensors, str(directory / 'probe.safetensors'))
        write_manifest(directory, probe={'file': 'probe.safetensors', 'atol': 1e9})
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2))
    engine.activate('honest')
    manifest = json.loads((tmp_path / 'liar' / 'manifest.json').read_text())
    manifest['probe']['atol'] = 1e-3
    (tmp_path / 'liar' / 'manifest.json').write_text(json.dumps(manifest))
    os.utime(tmp_path / 'liar' / 'manifest.json')
    engine.scan()
    with pytest.raises(ProbeFailed, match='differs from the expected probe output'):
        engine.activate('liar')
    assert engine.active == 'honest'


def test_duplicate_name_is_reported_against_the_later_directory(tmp_path):
    base = tiny_base()
    write_adapter(base, tmp_path / 'a_first', seed=1, **LORA)
    write_manifest(tmp_path / 'a_first', name='shared')
    write_adapter(base, tmp_path / 'b_second', seed=2, **LORA)
    write_manifest(tmp_path / 'b_second', name='shared')
    engine = AdapterEngine(copy.deepcopy(base), [tmp_path], EngineConfig(num_slots=2),
                           probe_inputs=((torch.randint(0, 256, (1, 8)),), {}))
    assert [a.name for a in engine.adapters()] == ['shared']
    reasons = engine.rejections()
    assert 'shared' not in reasons
    assert "duplicate adapter name 'shared'" in reasons[str(tmp_path / 'b_second')]
    engine.activate('shared')


def test_two_directories_claiming_one_name_are_both_shown(tmp_path):
    base = tiny_base()
    first, second = tmp_path / 'site', tmp_path / 'user'
    good = write_adapter(base, first / 'hazard', seed=1, **LORA)
    bad = write_adapter(base, second / 'hazard', seed=2, **LORA)
    _nan_weights(bad)
    broken_twice = [write_adapter(base, d / 'narrow', seed=3, **LORA) for d in (first, second)]
    _nan_weights(broken_twice[0])
    _truncated_weights(broken_twice[1])
    engine = AdapterEngine(copy.deepcopy(base), [second, first], EngineConfig(num_slots=2),
                           probe_inputs=((torch.randint(0, 256, (1, 8)),), {}))
    reasons = engine.rejections()
    assert [a.name for a in engine.adapters()] == ['hazard']
    assert 'non-finite' in reasons[str(bad)] and str(good) not in reasons
    assert 'non-finite' in reasons[str(broken_twice[0])]
    assert 'truncated' in reasons[str(broken_twice[1])]
    engine.activate('hazard')
    with pytest.raises(AdapterRejected) as raised:
        engine.activate('narrow')
    assert str(broken_twice[0]) in str(raised.value) and str(broken_twice[1]) in str(raised.value)
    assert engine.active == 'hazard'
