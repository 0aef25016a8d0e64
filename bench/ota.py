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
Over-the-air install benchmark: verify and install cost, and what an install does to the loop.

Workload: the prefetch benchmark's GPT-2 (8x768, vocab 1024, input 1x8, one torch thread)
ticking at 8 Hz; adapters on c_attn/c_proj/c_fc with r=8 (about 3 MB) and r=128 (about
50 MB), packed and signed as bundles. Measured, for each size, in alternating blocks within
one run (copy, verify, install, loop idle, loop during install, repeated):

* verify_ms: read the bundle, check members, signature and every sha256;
* install_ms: the whole install (verify, extract, engine probe, rename, registry scan) with
  no loop running, and install_vs_copy_ratio: that over a plain copy (+fsync) of the bundle;
* tick_p99_ratio_during_install: tick latency p99 (scheduled start to output) while a bundle
  installs, over the same loop's p99 in the neighbouring idle block;
* shadow_tick_overhead_ratio: tick p99 with a shadow candidate compared on every tick (its
  forward in the idle gaps) over tick p99 without, alternating blocks.

Prints a table and writes bench/results/ota.json.  Run: python bench/ota.py
"""

import argparse
import copy
import json
import os
from pathlib import Path
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.metrics import percentile
from adapter_switcher.fleet.bundle import check_payload
from adapter_switcher.fleet.bundle import pack_bundle
from adapter_switcher.fleet.bundle import read_bundle
from adapter_switcher.fleet.bundle import sign_bundle
from adapter_switcher.fleet.bundle import verify_signature
from adapter_switcher.fleet.controller import FleetController
from adapter_switcher.fleet.installer import Installer
from adapter_switcher.fleet.keys import generate_key_pair
from adapter_switcher.fleet.keys import Keyring
from adapter_switcher.fleet.keys import load_private_key
from adapter_switcher.fleet.policy import Policies
from adapter_switcher.fleet.shadow import ShadowEvaluator
from adapter_switcher.fleet.store import VersionStore
from peft import get_peft_model
from peft import LoraConfig
from prefetch import TickLoop
from prefetch import wide_base
import torch

RESULTS = Path(__file__).resolve().parent / 'results' / 'ota.json'
SIZES = {'3mb': 8, '50mb': 128}
TARGETS = ['c_attn', 'c_proj', 'c_fc']


class Bench:
    """One robot (engine over a version store) and one release workshop (key, sources)."""

    def __init__(self, root: Path, base, x):
        self.root = root
        self.x = x
        private, _ = generate_key_pair(root / 'trusted', 'release')
        self.key = load_private_key(private)
        self.store = VersionStore(root / 'store')
        self.engine = AdapterEngine(copy.deepcopy(base), [self.store.root],
                                    EngineConfig(num_slots=4, max_rank=128),
                                    probe_inputs=((x,), {}))
        self.installer = Installer(self.engine, self.store, Keyring(root / 'trusted'))
        self.sources = {size: self._write_source(base, size, rank)
                        for size, rank in SIZES.items()}
        self.count = 0

    def _write_source(self, base, size: str, rank: int) -> Path:
        torch.manual_seed(rank)
        config = LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False,
                            target_modules=TARGETS)
        directory = self.root / 'src' / size
        get_peft_model(copy.deepcopy(base), config).save_pretrained(str(directory))
        return directory

    def bundle(self, size: str, name: str = 'nav') -> Path:
        """Pack and sign a new version of ``name`` from the ``size`` adapter."""
        self.count += 1
        version = f'1.{self.count}.0'
        out = self.root / 'bundles' / f'{name}@{version}.adapter.tar'
        pack_bundle(self.sources[size], out, version, name=name,
                    base_fingerprint=self.engine.fingerprint)
        sign_bundle(out, self.key, 'release')
        return out

    def uninstall(self, ref: str) -> None:
        shutil.rmtree(self.store.path(ref))
        self.engine.scan()


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def plain_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with open(target, 'rb+') as stream:
        os.fsync(stream.fileno())
    target.unlink()


def verify(bench: Bench, path: Path) -> None:
    bundle = read_bundle(path)
    verify_signature(bundle, bench.installer.keyring)
    check_payload(bundle)


def loop_during_install(bench: Bench, period: float, tick, path: Path) -> list:
    """Tick until an install running beside the loop has finished; return latencies."""
    loop = TickLoop(period)
    done = threading.Event()
    refs = []

    def install():
        refs.append(bench.installer.install(path))
        done.set()

    thread = threading.Thread(target=install)
    thread.start()
    latencies = []
    while not done.is_set():
        latencies.extend(loop.run(4, tick))
    thread.join()
    bench.uninstall(refs[0])
    return latencies


def measure_installs(bench: Bench, period: float, tick, reps: int) -> dict:
    """Alternate copy, verify, install, idle loop and loop-during-install blocks per size."""
    out = {size: {'copy': [], 'verify': [], 'install': [], 'idle': [], 'busy': []}
           for size in SIZES}
    for _ in range(reps):
        for size in SIZES:
            rows = out[size]
            path = bench.bundle(size)
            rows['copy'].append(timed(plain_copy, path, bench.root / 'copy.tar')[0])
            rows['verify'].append(timed(verify, bench, path)[0])
            seconds, ref = timed(bench.installer.install, path)
            rows['install'].append(seconds)
            bench.uninstall(ref)
            busy = loop_during_install(bench, period, tick, bench.bundle(size))
            rows['busy'].extend(busy)
            rows['idle'].extend(TickLoop(period).run(len(busy), tick))
            rows['bytes'] = path.stat().st_size
    return out


def measure_shadow(bench: Bench, period: float, blocks: int, ticks: int) -> tuple:
    """Alternate blocks without and with a shadow candidate; return both latency lists."""
    ref = bench.installer.install(bench.bundle('3mb', name='cand'))
    index = bench.engine.load_to_slot(ref)
    bench.engine.probe_when_idle(index, ref)
    shadow = ShadowEvaluator(bench.engine, ref, threshold=0.05)
    inputs = ((bench.x,), {})

    def plain():
        bench.engine.step(bench.x)

    def shadowed():
        shadow.offer(inputs, bench.engine.step(bench.x).output)

    without, with_shadow = [], []
    loop = TickLoop(period)
    loop.run(10, plain)
    for _ in range(blocks):
        without.extend(loop.run(ticks, plain))
        with_shadow.extend(loop.run(ticks, shadowed))
    compared = shadow.summary()['ticks']
    shadow.stop()
    return without, with_shadow, compared


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate-hz', type=float, default=8.0)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--shadow-blocks', type=int, default=4)
    parser.add_argument('--ticks-per-block', type=int, default=40)
    parser.add_argument('--output', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    base = wide_base()
    x = torch.randint(0, 1024, (1, 8))
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), base, x)
        first = bench.installer.install(bench.bundle('3mb'))
        FleetController(bench.engine, bench.store, Policies())
        bench.engine.activate(first)
        period = 1.0 / args.rate_hz

        def tick():
            bench.engine.step(x)

        TickLoop(period).run(10, tick)
        installs = measure_installs(bench, period, tick, args.reps)
        without, with_shadow, compared = measure_shadow(bench, period, args.shadow_blocks,
                                                        args.ticks_per_block)
        bench.engine.close()
    med = statistics.median
    results = {}
    for size, rows in installs.items():
        results[f'verify_ms_{size}'] = med(rows['verify']) * 1e3
        results[f'install_ms_{size}'] = med(rows['install']) * 1e3
        results[f'copy_ms_{size}'] = med(rows['copy']) * 1e3
        results[f'install_vs_copy_ratio_{size}'] = med(rows['install']) / med(rows['copy'])
        results[f'bundle_mb_{size}'] = rows['bytes'] / 1e6
        results[f'tick_p99_ms_idle_{size}'] = percentile(rows['idle'], 99) * 1e3
        results[f'tick_p99_ms_installing_{size}'] = percentile(rows['busy'], 99) * 1e3
        results[f'tick_p99_ratio_during_install_{size}'] = (
            percentile(rows['busy'], 99) / percentile(rows['idle'], 99))
    results['verify_ms'] = {s: results[f'verify_ms_{s}'] for s in SIZES}
    results['install_ms'] = {s: results[f'install_ms_{s}'] for s in SIZES}
    results['install_vs_copy_ratio'] = results['install_vs_copy_ratio_50mb']
    results['tick_p99_ratio_during_install'] = max(
        results[f'tick_p99_ratio_during_install_{s}'] for s in SIZES)
    results['shadow_tick_overhead_ratio'] = (percentile(with_shadow, 99)
                                             / percentile(without, 99))
    results['tick_p99_ms_without_shadow'] = percentile(without, 99) * 1e3
    results['tick_p99_ms_with_shadow'] = percentile(with_shadow, 99) * 1e3
    results['shadow_ticks_compared'] = compared
    results['shadow_ticks_offered'] = len(with_shadow)
    results['tick_ms'] = med(without) * 1e3
    results['tick_period_ms'] = 1e3 / args.rate_hz
    results['workload'] = ('GPT-2 8x768, vocab 1024, input 1x8, 1 torch thread, '
                           f'{args.rate_hz:g} Hz; LoRA on {"/".join(TARGETS)}, r=8 and r=128')
    results['machine'] = f'{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}'
    results['targets_met'] = {
        'tick_p99_ratio_during_install': results['tick_p99_ratio_during_install'] <= 1.10,
        'shadow_tick_overhead_ratio': results['shadow_tick_overhead_ratio'] <= 1.10,
    }
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    print(f'\nwrote {args.output}')
    return 0


def print_table(r):
    rows = []
    for size in SIZES:
        rows += [
            (f'{size}: bundle', f"{r[f'bundle_mb_{size}']:.1f} MB", ''),
            (f'{size}: verify', f"{r[f'verify_ms_{size}']:.1f} ms", ''),
            (f'{size}: install / plain copy',
             f"{r[f'install_ms_{size}']:.1f} / {r[f'copy_ms_{size}']:.1f} ms "
             f"({r[f'install_vs_copy_ratio_{size}']:.1f}x)", ''),
            (f'{size}: tick p99 idle / installing',
             f"{r[f'tick_p99_ms_idle_{size}']:.2f} / {r[f'tick_p99_ms_installing_{size}']:.2f}"
             f" ms ({r[f'tick_p99_ratio_during_install_{size}']:.3f}x)", '<= 1.10x'),
        ]
    rows.append(('tick p99 without / with shadow',
                 f"{r['tick_p99_ms_without_shadow']:.2f} / {r['tick_p99_ms_with_shadow']:.2f} "
                 f"ms ({r['shadow_tick_overhead_ratio']:.3f}x, "
                 f"{r['shadow_ticks_compared']}/{r['shadow_ticks_offered']} ticks compared)",
                 '<= 1.10x'))
    rows.append(('tick duration (median) / period',
                 f"{r['tick_ms']:.2f} / {r['tick_period_ms']:.0f} ms", ''))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == '__main__':
    sys.exit(main())
