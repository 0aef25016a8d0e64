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

Workload: the prefetch benchmark's GPT-2 (6x512, vocab 1024, input 1x8, one torch thread)
ticking at 10 Hz; adapters on c_attn/c_proj/c_fc with r=16 (about 3 MB) and r=256 (about
50 MB), packed and signed as bundles. Measured, for each size, in alternating blocks within
one run (copy, verify, install, loop idle, loop during install, repeated):

* verify_ms: read the bundle, check members, signature and every sha256;
* install_ms: the whole install (verify, extract, engine probe, rename, registry scan) with
  no loop running, and install_vs_copy_ratio: that over a plain copy (+fsync) of the bundle;
* tick_p99_ratio_during_install: tick latency p99 (scheduled start to output) while new
  versions install back to back for a block of about --ticks-per-block ticks, over the same
  loop's p99 in the neighbouring idle block of as many ticks; also with the time the tick
  waited for a CPU taken by other processes removed (tick_attribution.py's in-process
  latency), since this machine is shared; and install_cpu_in_ticks_share: the share of the
  installer thread's CPU time that fell inside a tick (from its start to its output) rather
  than in the idle gaps, which machine noise barely moves (0 when every slice fits its gap);
  with a 90% bootstrap interval of the ratio (a p99 of a few hundred ticks rests on a handful
  of them). Both blocks start after the same few unmeasured ticks: between blocks the loop
  stands still, and a bundle arrives at a robot whose loop is already running. The heap is
  frozen after set-up, as the inference node does once configured;
* shadow_tick_overhead_ratio: tick p99 with a shadow candidate compared on every tick (its
  forward in the idle gaps) over tick p99 without, alternating blocks.

Prints a table and writes bench/results/ota.json.  Run: python bench/ota.py
"""

import argparse
import copy
import gc
import json
import math
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
from prefetch import wide_base
from tick_attribution import GcPauses
from tick_attribution import p99_ratio_interval
from tick_attribution import TickLoop
import torch

RESULTS = Path(__file__).resolve().parent / 'results' / 'ota.json'
SIZES = {'3mb': 16, '50mb': 256}
MAX_RANK = 256
TARGETS = ['c_attn', 'c_proj', 'c_fc']
# The engine's tick clock counts a loop as stopped after three periods without a tick; an
# install timed sooner would still wait for the gaps of a loop that no longer ticks.
LOOP_STOPPED_PERIODS = 3.5
WARM_UP_TICKS = 5


class Bench:
    """One robot (engine over a version store) and one release workshop (key, sources)."""

    def __init__(self, root: Path, base, x):
        self.root = root
        self.x = x
        private, _ = generate_key_pair(root / 'trusted', 'release')
        self.key = load_private_key(private)
        self.store = VersionStore(root / 'store')
        self.engine = AdapterEngine(copy.deepcopy(base), [self.store.root],
                                    EngineConfig(num_slots=4, max_rank=MAX_RANK),
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


def warm_up(loop: TickLoop, tick) -> None:
    """
    Resume the loop and let it tick unmeasured before a block, the same for both conditions.

    Between blocks the loop stands still (packing the bundles, removing the installed ones),
    so its first ticks run on cold caches and the engine's clock has lost the loop's phase.
    A bundle arrives at a robot whose loop is running: the install starts after these ticks.
    """
    loop.resync()
    loop.run(WARM_UP_TICKS, tick)


def loop_during_install(bench: Bench, loop: TickLoop, tick, paths: list) -> list:
    """
    Tick while the bundles ``paths`` install beside the loop, one after another.

    One install of a small bundle overlaps a tick or two, too few for a p99, so a block
    installs several new versions back to back (packed before the block: packing is the
    release workshop's work, not the robot's). They are removed after the block, outside it.
    """
    refs = []

    def install():
        for path in paths:
            refs.append(bench.installer.install(path))

    thread = threading.Thread(target=install)
    warm_up(loop, tick)
    thread.start()
    loop.loader_tid = thread.native_id
    samples = []
    while thread.is_alive():
        samples.extend(loop.run(1, tick))
    thread.join()
    loop.loader_tid = None
    for ref in refs:
        shutil.rmtree(bench.store.path(ref))
    for path in paths:
        path.unlink()
    bench.engine.scan()
    os.sync()   # the removal's disk work ends here, not in the next (idle) block
    return samples


def measure_installs(bench: Bench, loop: TickLoop, tick, reps: int, ticks: int) -> dict:
    """
    Alternate copy, verify, install, idle loop and loop-during-install blocks per size.

    Each install block holds enough back-to-back installs to cover about ``ticks`` ticks, as
    estimated from the install time measured just before it. The idle block follows it in
    even reps and precedes it in odd ones (ABBA), as long as the install blocks so far on
    average: what an install leaves behind (removing and syncing its versions, the kernel
    reclaiming their page cache) falls on both conditions alike.
    """
    out = {size: {'copy': [], 'verify': [], 'install': [], 'idle': [], 'busy': []}
           for size in SIZES}
    for rep in range(reps):
        for size in SIZES:
            rows = out[size]
            path = bench.bundle(size)
            time.sleep(LOOP_STOPPED_PERIODS * loop.period)  # no loop: nothing waits for gaps
            rows['copy'].append(timed(plain_copy, path, bench.root / 'copy.tar')[0])
            rows['verify'].append(timed(verify, bench, path)[0])
            seconds, ref = timed(bench.installer.install, path)
            rows['install'].append(seconds)
            bench.uninstall(ref)
            count = max(1, math.ceil(ticks * loop.period / seconds))
            bundles = [bench.bundle(size) for _ in range(count)]
            idle_first = rep % 2 == 1
            if idle_first:
                warm_up(loop, tick)
                rows['idle'].extend(loop.run(len(rows['busy']) // rep, tick))
            busy = loop_during_install(bench, loop, tick, bundles)
            rows['busy'].extend(busy)
            if not idle_first:
                warm_up(loop, tick)
                rows['idle'].extend(loop.run(len(busy), tick))
            rows['bytes'] = path.stat().st_size
    return out


def measure_shadow(bench: Bench, loop: TickLoop, blocks: int, ticks: int) -> tuple:
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
    loop.loader_tid = shadow.native_id
    loop.resync()
    loop.run(10, plain)
    for _ in range(blocks):
        without.extend(loop.run(ticks, plain))
        with_shadow.extend(loop.run(ticks, shadowed))
    loop.loader_tid = None
    compared = shadow.summary()['ticks']
    shadow.stop()
    return without, with_shadow, compared


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate-hz', type=float, default=10.0)
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

        def tick():
            bench.engine.step(x)

        gc.collect()
        gc.freeze()     # as the inference node does once configured: no full-heap GC pauses
        with GcPauses() as pauses:
            loop = TickLoop(1.0 / args.rate_hz, pauses)
            loop.run(10, tick)
            installs = measure_installs(bench, loop, tick, args.reps, args.ticks_per_block)
            without, with_shadow, compared = measure_shadow(bench, loop, args.shadow_blocks,
                                                            args.ticks_per_block)
        bench.engine.close()
    med = statistics.median
    results = {}
    for size, rows in installs.items():
        idle = [t.latency_s for t in rows['idle']]
        busy = [t.latency_s for t in rows['busy']]
        idle_in = [t.in_process_s for t in rows['idle']]
        busy_in = [t.in_process_s for t in rows['busy']]
        results[f'verify_ms_{size}'] = med(rows['verify']) * 1e3
        results[f'install_ms_{size}'] = med(rows['install']) * 1e3
        results[f'copy_ms_{size}'] = med(rows['copy']) * 1e3
        results[f'install_vs_copy_ratio_{size}'] = med(rows['install']) / med(rows['copy'])
        results[f'bundle_mb_{size}'] = rows['bytes'] / 1e6
        results[f'tick_p99_ms_idle_{size}'] = percentile(idle, 99) * 1e3
        results[f'tick_p99_ms_installing_{size}'] = percentile(busy, 99) * 1e3
        results[f'ticks_during_install_{size}'] = len(busy)
        results[f'tick_p99_ratio_during_install_{size}'] = (percentile(busy, 99)
                                                            / percentile(idle, 99))
        results[f'tick_in_process_p99_ratio_during_install_{size}'] = (
            percentile(busy_in, 99) / percentile(idle_in, 99))
        low, high = p99_ratio_interval(busy, idle)
        results[f'tick_p99_ratio_during_install_interval_{size}'] = [low, high]
        results[f'tick_gc_max_ms_installing_{size}'] = max(t.gc_s for t in rows['busy']) * 1e3
        results[f'install_cpu_in_ticks_share_{size}'] = (
            sum(t.loader_cpu_in_tick_s for t in rows['busy'])
            / max(1e-9, sum(t.loader_cpu_s for t in rows['busy'])))
    results['verify_ms'] = {s: results[f'verify_ms_{s}'] for s in SIZES}
    results['install_ms'] = {s: results[f'install_ms_{s}'] for s in SIZES}
    results['install_vs_copy_ratio'] = results['install_vs_copy_ratio_50mb']
    results['tick_p99_ratio_during_install'] = max(
        results[f'tick_p99_ratio_during_install_{s}'] for s in SIZES)
    results['tick_in_process_p99_ratio_during_install'] = max(
        results[f'tick_in_process_p99_ratio_during_install_{s}'] for s in SIZES)
    plain, shadowed = ([t.latency_s for t in without], [t.latency_s for t in with_shadow])
    results['shadow_tick_overhead_ratio'] = percentile(shadowed, 99) / percentile(plain, 99)
    results['shadow_tick_in_process_overhead_ratio'] = (
        percentile([t.in_process_s for t in with_shadow], 99)
        / percentile([t.in_process_s for t in without], 99))
    results['tick_p99_ms_without_shadow'] = percentile(plain, 99) * 1e3
    results['tick_p99_ms_with_shadow'] = percentile(shadowed, 99) * 1e3
    results['shadow_ticks_compared'] = compared
    results['shadow_ticks_offered'] = len(with_shadow)
    results['tick_ms'] = med(plain) * 1e3
    results['tick_period_ms'] = 1e3 / args.rate_hz
    results['workload'] = ('GPT-2 6x512, vocab 1024, input 1x8, 1 torch thread, '
                           f'{args.rate_hz:g} Hz; LoRA on {"/".join(TARGETS)}, r=16 and r=256')
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
             f" ms ({r[f'tick_p99_ratio_during_install_{size}']:.3f}x, in-process "
             f"{r[f'tick_in_process_p99_ratio_during_install_{size}']:.3f}x, "
             f"{r[f'ticks_during_install_{size}']} ticks)", '<= 1.10x'),
            (f'{size}: p99 ratio, 90% bootstrap interval',
             '{:.3f} .. {:.3f}'.format(*r[f'tick_p99_ratio_during_install_interval_{size}']),
             ''),
            (f'{size}: installer CPU inside ticks',
             f"{r[f'install_cpu_in_ticks_share_{size}']:.1%} of its CPU time (longest GC "
             f"in a tick {r[f'tick_gc_max_ms_installing_{size}']:.1f} ms)", ''),
        ]
    rows.append(('tick p99 without / with shadow',
                 f"{r['tick_p99_ms_without_shadow']:.2f} / {r['tick_p99_ms_with_shadow']:.2f} "
                 f"ms ({r['shadow_tick_overhead_ratio']:.3f}x, in-process "
                 f"{r['shadow_tick_in_process_overhead_ratio']:.3f}x, "
                 f"{r['shadow_ticks_compared']}/{r['shadow_ticks_offered']} ticks compared)",
                 '<= 1.10x'))
    rows.append(('tick duration (median) / period',
                 f"{r['tick_ms']:.2f} / {r['tick_period_ms']:.0f} ms", ''))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == '__main__':
    sys.exit(main())
