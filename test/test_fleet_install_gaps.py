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
An install beside a ticking loop does its work in slices released in the idle gaps only.

The engine records every slice it releases (the real engine, its ``idle_slice`` observed by a
subclass, gap_recording.py); a loop on its own thread ticks a policy whose forward takes TICK
seconds and records every tick's [start, end]. The test checks that no slice started inside a
tick, that every kind of install work went through the gaps, and that the weights were hashed,
read and checked once (at the trial), not again when the version was registered (which hashes
the small files), and that activating it does not run its probe again. Registration does check
the weights again when they are not the tried ones: another file, or the manifest now listing
another hash.
"""

import itertools
import json
from pathlib import Path
import threading
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterRejected
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.core.safetensors_io import read_header
from adapter_switcher.fleet.installer import Installer
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.store import VersionStore
from fleet_fixtures import OBS
from fleet_fixtures import observations
from fleet_fixtures import ReluPolicy
from fleet_fixtures import Workshop
from fleet_fixtures import write_adapter
from gap_recording import RecordingEngine
import pytest
import torch

PERIOD = 0.05
TICK = 0.012


class SlowPolicy(ReluPolicy):
    """The fixtures' policy with a forward as long as a real robot's (sleeping, so no CPU)."""

    def forward(self, obs):
        time.sleep(TICK)
        return super().forward(obs)


def test_install_work_runs_in_the_idle_gaps_and_reads_the_weights_once(tmp_path):
    store = VersionStore(tmp_path / 'robot' / 'store')
    engine = RecordingEngine(SlowPolicy(), [store.root], EngineConfig(),
                             probe_inputs=((torch.zeros(1, OBS),), {}))
    shop = Workshop(tmp_path, SlowPolicy(), engine.fingerprint)
    installer = Installer(engine, store, Keyring(shop.trusted))
    x = observations(1)[0]
    ticks, stop = [], threading.Event()

    def loop():
        start = time.perf_counter()
        for index in itertools.count():
            if stop.wait(max(0.0, start + index * PERIOD - time.perf_counter())):
                return
            began = time.perf_counter()
            engine.step(x)
            ticks.append((began, time.perf_counter()))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(5 * PERIOD)
        ref = installer.install(shop.bundle('nav', '1.0.0', seed=1))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert ref == 'nav@1.0.0' and engine.known(ref)
    inside = [(kind, t) for kind, _, t in engine.slices for began, ended in ticks
              if began <= t <= ended]
    assert not inside, f'{len(inside)} slices released during a tick: {inside[:5]}'
    kinds = {kind for kind, _, _ in engine.slices}
    assert {'extract', 'fsync', 'hash', 'read', 'check', 'copy'} <= kinds, kinds
    weights = Path(store.path(ref)) / 'adapter_model.safetensors'
    entries, _ = read_header(str(weights))
    data = sum(e['data_offsets'][1] - e['data_offsets'][0] for e in entries.values())
    for kind in ('read', 'check'):
        assert sum(a for k, a, _ in engine.slices if k == kind) == data, \
            f'the weights were {kind} once, at the trial, not again at registration'
    others = sum(p.stat().st_size for p in weights.parent.iterdir()
                 if p.name not in (weights.name, 'manifest.json'))
    hashed = sum(a for k, a, _ in engine.slices if k == 'hash')
    assert hashed == weights.stat().st_size + 2 * others, \
        'the engine hashed the weights once; only the small files again at registration'
    probes = engine.metrics_dict()['probe_count']
    engine.activate(ref)
    metrics = engine.metrics_dict()
    assert metrics['probe_count'] == probes and metrics['probes_remembered'] == 1, \
        'the version the trial probed is not probed again once registered'
    engine.close()


@pytest.mark.parametrize('change', ['weights rewritten', 'manifest hash changed'])
def test_registration_checks_the_weights_again_unless_they_are_the_tried_ones(tmp_path, change):
    store = VersionStore(tmp_path / 'store')
    engine = AdapterEngine(ReluPolicy(), [store.root], EngineConfig(),
                           probe_inputs=((torch.zeros(1, OBS),), {}))
    staging = write_adapter(ReluPolicy(), store.staging / 'nav@1.0.0.tmp', seed=1)
    write_manifest(staging, name='nav', version='1.0.0', base_fingerprint=engine.fingerprint)
    tried = engine.trial(staging, 'nav@1.0.0')
    final = store.path('nav@1.0.0')
    staging.rename(final)
    weights = final / 'adapter_model.safetensors'
    if change == 'weights rewritten':       # another file now, one byte of its data flipped
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0x01
        weights.unlink()
        weights.write_bytes(bytes(data))
    else:                                   # the tried file, but listed with another hash
        manifest = json.loads((final / 'manifest.json').read_text())
        manifest['files'][weights.name] = '0' * 64
        (final / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(AdapterRejected, match='adapter_model.safetensors does not match'):
        engine.add(final, tried)
    assert not engine.known('nav@1.0.0')
    engine.close()
