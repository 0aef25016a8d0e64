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

"""Choosing among candidate model sets by their loss on held-back data (--candidates)."""

import argparse
import shutil

from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import load_base_model
from adapter_switcher.core.adapter_files import MANIFEST
from adapter_switcher.core.adapter_files import read_manifest
from adapter_switcher.demo import train_cli
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.adapters import hazard
from adapter_switcher.demo.adapters import navigation
from adapter_switcher.demo.adapters import random_observations
from adapter_switcher.demo.adapters import save_demo_models
from adapter_switcher.demo.adapters import selection_loss
from adapter_switcher.demo.policy_kinds import FEATURE_MLP
from adapter_switcher.paths import share_path
from peft import PeftModel
import pytest
import torch


def _data(count: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    obs = random_observations(count, generator)
    return obs, hazard(obs) + 0.2 * torch.randn(count, 2, generator=generator)


def _written_loss(out, selection) -> float:
    """Return the selection loss of the written base and hazard adapter, loaded by PEFT."""
    base = load_base_model(BaseModelSpec(factory=FEATURE_MLP.factory,
                                         weights=str(out / BASE_WEIGHTS)))
    model = PeftModel.from_pretrained(base, str(out / ADAPTERS_SUBDIR / 'hazard')).eval()
    return selection_loss(model, *selection)


def _save(out, candidates: int, selection):
    obs, targets = _data(256, 0)
    torch.manual_seed(0)
    save_demo_models(out, (obs, navigation(obs)), {'hazard': (obs, targets)}, steps=40,
                     seed=0, batch=32, candidates=candidates,
                     selection=None if selection is None else {'hazard': selection})
    return read_manifest(out / ADAPTERS_SUBDIR / 'hazard' / MANIFEST).metrics


def test_candidates_write_the_set_with_the_lowest_loss_on_the_held_back_data(tmp_path):
    selection = _data(512, 1)
    metrics = _save(tmp_path / 'three', 3, selection)
    losses = [metrics[f'selection_loss_{k}'] for k in range(3)]
    assert len(set(losses)) == 3            # the seeds made three different fits
    assert metrics['selection_loss'] == min(losses)
    assert _written_loss(tmp_path / 'three', selection) == pytest.approx(min(losses), rel=1e-5)
    # Candidate 0 is the fit a single-candidate training writes.
    assert _save(tmp_path / 'one', 1, None) == {}
    assert _written_loss(tmp_path / 'one', selection) == pytest.approx(losses[0], rel=1e-5)


def test_candidates_without_held_back_data_for_every_adapter_are_refused(tmp_path):
    with pytest.raises(ValueError, match='needs held-back selection data .*none for hazard'):
        _save(tmp_path, 2, None)
    with pytest.raises(ValueError, match='candidates must be at least 1, got 0'):
        _save(tmp_path, 0, None)
    assert not (tmp_path / ADAPTERS_SUBDIR / 'hazard').exists()


def _train_demo(argv, capsys):
    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    args = parser.parse_args(['train-demo', *argv])
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_train_demo_refuses_candidates_and_seeds_it_cannot_keep_apart(tmp_path, capsys):
    out = tmp_path / 'models'
    code, printed = _train_demo(['--out', str(out), '--candidates', '0'], capsys)
    assert code == 2 and 'train-demo: --candidates must be at least 1, got 0' in printed
    # 3 rounds of 4000 segments from seed 20000 would reach the selection segments' 30000.
    code, printed = _train_demo(['--out', str(out), '--situations', '4000', '--candidates',
                                 '2'], capsys)
    assert code == 2 and ('the training segments (seeds 20000-35999) must stay below the '
                          'selection segments (30000-30059)') in printed
    code, printed = _train_demo(['--out', str(out), '--selection-situations', '30000',
                                 '--candidates', '2'], capsys)
    assert code == 2 and 'and those below the validation seeds (50000 on)' in printed
    assert not out.exists()


def test_train_demo_refuses_initial_models_it_cannot_drive(tmp_path, capsys):
    out = tmp_path / 'models'
    code, printed = _train_demo(['--out', str(out), '--rounds', '0', '--init',
                                 str(tmp_path)], capsys)
    assert code == 2 and 'train-demo: --init needs --rounds of at least 1' in printed
    code, printed = _train_demo(['--out', str(out), '--init', str(tmp_path / 'none')], capsys)
    assert code == 2 and f'--init {tmp_path / "none"}: no base_policy.safetensors' in printed
    (tmp_path / 'base_only').mkdir()  # a base, but no adapters
    shutil.copyfile(share_path('models/demo/visuomotor') / 'base_policy.safetensors',
                    tmp_path / 'base_only' / 'base_policy.safetensors')
    code, printed = _train_demo(['--out', str(out), '--rounds', '1', '--init',
                                 str(tmp_path / 'base_only')], capsys)
    assert code == 2 and '--init' in printed and "unknown adapter 'navigation'" in printed
    assert not out.exists()


def test_train_demo_refuses_adapters_it_cannot_fit_alone(tmp_path, capsys):
    out = tmp_path / 'models'
    code, printed = _train_demo(['--out', str(out), '--adapters', 'hazard'], capsys)
    assert code == 2 and 'a new base needs every adapter fitted on it' in printed
    code, printed = _train_demo(['--out', str(out), '--base', str(tmp_path / 'none'),
                                 '--adapters', 'hazard'], capsys)
    assert code == 2 and f'{tmp_path / "none"}: no base_policy.safetensors there' in printed
    (tmp_path / 'base_only').mkdir()
    shutil.copyfile(share_path('models/demo/visuomotor') / 'base_policy.safetensors',
                    tmp_path / 'base_only' / 'base_policy.safetensors')
    code, printed = _train_demo(['--out', str(out), '--base', str(tmp_path / 'base_only'),
                                 '--adapters', 'hazard'], capsys)
    assert code == 2 and 'no navigation, slow_zone adapter there to keep' in printed
    (tmp_path / 'base_only' / 'base_policy.safetensors').write_bytes(b'not safetensors')
    code, printed = _train_demo(['--out', str(out), '--base', str(tmp_path / 'base_only'),
                                 '--adapters', 'hazard'], capsys)
    assert code == 2 and 'cannot read base weights' in printed
    for share in ('-1', 'inf', 'nan'):
        code, printed = _train_demo(['--out', str(out), '--off-situation', share], capsys)
        assert code == 2 and '--off-situation must be a number of at least 0, got' in printed
    assert not out.exists()
