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
Prefetch benchmark: a large adapter loads in the background without slowing the control loop.

Workload: transformers GPT-2 (n_embd=512, n_layer=6, n_head=8, vocab 1024), input 1x8 tokens,
one torch thread, ticking at 10 Hz (a tick takes well under half the period, which leaves a gap
for the copy slices); three adapters (navigation, hazard, docking) with r=256 on
c_attn/c_proj/c_fc, about 50 MB each; the engine runs memory-tight (two slots,
keep_inactive=False, no host cache), so every prefetch copies a whole 50 MB adapter.

Part 1, tick latency (scheduled start to output) of one loop, in alternating blocks (idle,
prefetching, prefetching, idle, ...) with back-to-back prefetches of 50 MB adapters in the
prefetching blocks; ticks while the last load of a block drains belong to neither. Each tick's
time is split (see tick_attribution.py) into CPU, waiting for a CPU (ours or another process's),
waiting for the GIL or a lock, and GC, so a stall from outside the process is told apart from
one the prefetch causes. Reported: p99 ratio of the raw latencies with its 90 % bootstrap
interval, and of the in-process latencies (the outside part removed), and the loader's CPU
time inside ticks (background work that ran while a tick was due).
Part 2, the scripted navigation -> hazard -> navigation scenario driven by the real context
policy at the tick rate, 12 episodes with prefetch (23 hits) and 3 without, spread among them:
hit rate, and the time from the context change (the request, issued just before a tick) to
the first output of the new adapter, against the median tick of the same episodes (the step
of each tick without a switch); and, per hit, what it took beyond the 20 ticks around it.
Both parts run three times by default (--runs): every run must meet the targets (tick p99
ratio <= 1.10, hit <= tick + 1 ms, hit rate >= 95 %, no hit without prefetch) and the runs'
tick p99 ratios must agree within 10 % ((max - min) / mean). Prints a table per run and a
verdict, and writes bench/results/prefetch.json (the last run's details, every run's summary,
the spread and the verdict). Run: python bench/prefetch.py (about 18 minutes on 2 quiet cores).
"""

import argparse
import copy
import gc
import json
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import threading
import time

from adapter_switcher.context.policy import ContextPolicy
from adapter_switcher.context.rules import load_rules
from adapter_switcher.context.scenarios import SpillScenario
from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.core.follower import DecisionFollower
from adapter_switcher.core.metrics import percentile
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.paths import share_path
from peft import get_peft_model
from peft import LoraConfig
from tick_attribution import GcPauses
from tick_attribution import p99_ratio_interval
from tick_attribution import TickLoop
import torch
from transformers import GPT2Config
from transformers import GPT2LMHeadModel

RESULTS = Path(__file__).resolve().parent / 'results' / 'prefetch.json'
ADAPTERS = ('navigation', 'hazard', 'docking')
RANK = 256
STALL_FACTOR = 1.5
NEARBY = 10     # ticks before and after a hit that are its own reference
P99_TARGET = 1.10
AGREEMENT_PCT = 10.0


def wide_base() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=6, n_embd=512, n_head=8, vocab_size=1024, n_positions=64,
                        bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def write_large_adapters(base, root: Path) -> float:
    for i, name in enumerate(ADAPTERS):
        torch.manual_seed(2000 + i)
        config = LoraConfig(r=RANK, lora_alpha=2 * RANK, init_lora_weights=False,
                            target_modules=['c_attn', 'c_proj', 'c_fc'])
        get_peft_model(copy.deepcopy(base), config).save_pretrained(str(root / name))
    return (root / ADAPTERS[0] / 'adapter_model.safetensors').stat().st_size / 1e6


def make_engine(base, root, x):
    engine = AdapterEngine(copy.deepcopy(base), [root],
                           EngineConfig(num_slots=2, max_rank=RANK, host_cache_bytes=0,
                                        keep_inactive=False),
                           probe_inputs=((x,), {}))
    engine.activate('navigation')
    gc.collect()
    gc.freeze()     # as the inference node does once configured: no full-heap GC pauses
    return engine


def loader_tid() -> int:
    """Return the native id of the engine's background loader thread."""
    return next(t.native_id for t in threading.enumerate() if t.name == 'adapter-loader')


class PrefetchDriver:
    """Keeps the prefetcher loading hazard and docking in turn, back to back, while on."""

    def __init__(self, engine):
        self.engine = engine
        self.prefetcher = Prefetcher(engine)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name='prefetch-driver')
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        turn = 0
        while not self._stop.is_set():
            self.prefetcher.retarget([(('hazard', 'docking')[turn % 2], 1.0)])
            turn += 1
            self.engine.worker.wait_idle(10.0)


def measure_tick_latency(engine, x, loop, blocks, ticks_per_block):
    """Alternate idle and prefetching blocks (ABBA order) of one loop; return the samples."""
    driver = PrefetchDriver(engine)
    samples = {'idle': [], 'prefetch': []}
    loads_before = engine.metrics_dict()['slot_load_count']
    step = lambda: engine.step(x)  # noqa: E731
    loop.resync()
    loop.run(10, step)
    drained = 0
    for block in range(blocks):
        condition = ('idle', 'prefetch', 'prefetch', 'idle')[block % 4]
        if condition == 'prefetch':
            driver.start()
        samples[condition].extend(loop.run(ticks_per_block, step))
        if condition == 'prefetch':
            driver.stop()
            while engine.worker.busy():
                loop.tick(step)
                drained += 1
    loads = engine.metrics_dict()['slot_load_count'] - loads_before
    return samples, loads, drained


class ScenarioRunner:
    """The context policy driving one engine, with or without prefetch, tick by tick."""

    def __init__(self, base, root, x, period, prefetch: bool, episodes: int):
        rules = load_rules(share_path('config/context_rules.yaml'),
                           known_adapters=['navigation', 'hazard'])
        self.engine = make_engine(base, root, x)
        self.x = x
        self.policy = ContextPolicy(rules)
        self.follower = DecisionFollower(self.engine,
                                         Prefetcher(self.engine) if prefetch else None)
        # The spill comes into view over 2 s: the hint must lead the switch by more than a
        # 50 MB load, a few ticks here.
        self.scenario = SpillScenario(episodes=episodes, rate_hz=1.0 / period, navigation_s=2.0,
                                      ramp_up_s=2.0, hazard_s=2.5, ramp_down_s=2.0)
        self.ticks_per_episode = round(self.scenario.episode_s / period)
        self._snapshots = iter(self.scenario.snapshots())
        self.steps = []     # seconds of each tick's step without a switch: the reference
        self.swaps = []     # (index into steps where it fell, follow + step seconds) per hit

    def tick(self):
        decision = self.policy.update(next(self._snapshots))
        start = time.perf_counter()
        self.follower.follow(decision.desired, decision.predicted, decision.confidence)
        stepped = time.perf_counter()
        result = self.engine.step(self.x)
        end = time.perf_counter()
        if result.swap is None:
            self.steps.append(end - stepped)
        elif not result.swap.cold:
            self.swaps.append((len(self.steps), end - start))

    def hit_over_nearby_ticks(self):
        """
        Return, per hit, its follow + step less the median step of the ticks around it.

        The ticks around a swap (NEARBY before and after, same episodes) ran in the same state
        of the machine, so this pairs each hit with its own reference: what the switch itself
        added, without the drift between the minutes of a run that a median over all ticks
        leaves in.
        """
        return [span - statistics.median(self.steps[max(0, at - NEARBY):at + NEARBY])
                for at, span in self.swaps]

    def run(self, loop, ticks):
        loop.resync()
        for _ in range(ticks):
            loop.tick(self.tick)
        self.engine.worker.wait_idle(30.0)

    def close(self):
        metrics = self.engine.metrics_dict()
        metrics['step_p50_ms'] = statistics.median(self.steps) * 1e3
        extra = self.hit_over_nearby_ticks()
        metrics['hit_over_nearby_ticks_ms_p50'] = statistics.median(extra) * 1e3 if extra else None
        self.engine.close()
        return metrics


def run_scenarios(base, root, x, loop, episodes, without_episodes):
    """
    Run the scenario with prefetch for ``episodes`` episodes, and without it for fewer.

    The targets are about the runs with prefetch (their hits against their own ticks), whose
    median over a dozen swaps moves by a millisecond with the tick's own jitter, hence the
    larger count; the runs without show that no swap is a hit without prefetch and what a
    miss costs, for which a few episodes do. The episodes without are spread evenly among
    those with, in alternating order.
    """
    runners = {True: ScenarioRunner(base, root, x, loop.period, True, episodes),
               False: ScenarioRunner(base, root, x, loop.period, False, without_episodes)}
    for prefetch in episode_order(episodes, without_episodes):
        runners[prefetch].run(loop, runners[prefetch].ticks_per_episode)
    return runners[True].close(), runners[False].close()


def episode_order(episodes: int, without_episodes: int) -> list:
    """Return True (with prefetch) or False per episode, the ones without spread evenly."""
    order = [True] * episodes
    for k in reversed(range(without_episodes)):
        at = k * episodes // without_episodes
        order.insert(at + (k % 2 == 0), False)     # after its episode, then before the next
    return order


def summarize(samples):
    """Return latency percentiles and where the time of the stalled ticks went."""
    latency = [s.latency_s for s in samples]
    out = {
        'ticks': len(samples),
        'p50_ms': statistics.median(latency) * 1e3,
        'p99_ms': percentile(latency, 99) * 1e3,
        'in_process_p99_ms': percentile([s.in_process_s for s in samples], 99) * 1e3,
        'on_cpu_p50_ms': statistics.median(s.on_cpu_s for s in samples) * 1e3,
        'gil_or_lock_wait_p99_ms': percentile([s.blocked_s for s in samples], 99) * 1e3,
        'runq_outside_total_ms': sum(s.outside_s for s in samples) * 1e3,
        'runq_inside_total_ms': sum(s.inside_runq_s for s in samples) * 1e3,
        'gc_total_ms': sum(s.gc_s for s in samples) * 1e3,
        'loader_cpu_total_ms': sum(s.loader_cpu_s for s in samples) * 1e3,
        'loader_cpu_in_ticks_total_ms': sum(s.loader_cpu_in_tick_s for s in samples) * 1e3,
        'ticks_with_loader_cpu': sum(1 for s in samples if s.loader_cpu_in_tick_s > 1e-4),
        'loader_runq_in_ticks_total_ms': sum(s.loader_runq_s for s in samples) * 1e3,
        'blocked_while_loader_preempted_ticks': sum(
            1 for s in samples if s.blocked_s > 2e-3 and s.loader_runq_s > 1e-3),
    }
    return out


def classify_stalls(samples, threshold):
    """Count ticks slower than ``threshold`` by their largest cause."""
    on_cpu = statistics.median(s.on_cpu_s for s in samples)
    counts = {'outside': 0, 'own_loader_cpu': 0, 'gil_or_lock': 0, 'gc': 0, 'slow_cpu': 0}
    for s in samples:
        if s.latency_s <= threshold:
            continue
        causes = {'outside': s.outside_s, 'own_loader_cpu': s.inside_runq_s,
                  'gil_or_lock': s.blocked_s, 'gc': s.gc_s,
                  'slow_cpu': max(0.0, s.on_cpu_s - on_cpu)}
        counts[max(causes, key=causes.get)] += 1
    return counts


def one_run(base, root, x, period, args, cold):
    """Run both parts once; return this run's results."""
    engine = make_engine(base, root, x)
    for name in ('hazard', 'docking') * 3:
        start = time.perf_counter()
        engine.load_to_slot(name)
        cold.append(time.perf_counter() - start)
    Prefetcher(engine).retarget([('hazard', 1.0)])     # starts the loader thread
    engine.worker.wait_idle(30.0)
    with GcPauses() as pauses:
        loop = TickLoop(period, pauses)
        loop.loader_tid = loader_tid()
        samples, loads, drained = measure_tick_latency(engine, x, loop, args.blocks,
                                                       args.ticks_per_block)
        engine.close()
        with_prefetch, without = run_scenarios(base, root, x, loop, args.episodes,
                                               args.episodes_without)
    idle, busy = summarize(samples['idle']), summarize(samples['prefetch'])
    threshold = STALL_FACTOR * idle['p50_ms'] / 1e3
    swaps = with_prefetch['request_hits'] + with_prefetch['request_misses']
    low, high = p99_ratio_interval([t.latency_s for t in samples['prefetch']],
                                   [t.latency_s for t in samples['idle']])
    run = {
        'tick_p99_ratio_prefetch_vs_idle': busy['p99_ms'] / idle['p99_ms'],
        'tick_p99_ratio_interval': [low, high],
        'tick_in_process_p99_ratio_prefetch_vs_idle':
            busy['in_process_p99_ms'] / idle['in_process_p99_ms'],
        'tick_p50_ratio_prefetch_vs_idle': busy['p50_ms'] / idle['p50_ms'],
        'tick_p99_ms_idle': idle['p99_ms'],
        'tick_p99_ms_prefetch': busy['p99_ms'],
        'tick_ms': with_prefetch['step_p50_ms'],
        'tick_ms_idle_blocks': idle['p50_ms'],
        'idle': idle,
        'prefetch': busy,
        'stalls_idle': classify_stalls(samples['idle'], threshold),
        'stalls_prefetch': classify_stalls(samples['prefetch'], threshold),
        'stall_threshold_ms': threshold * 1e3,
        'prefetch_loads_during_measurement': loads,
        'drain_ticks_excluded': drained,
        'hit_rate': with_prefetch['request_hits'] / swaps if swaps else 0.0,
        'swaps_with_prefetch': swaps,
        'hits_without_prefetch': without['request_hits'],
        'swaps_without_prefetch': without['request_hits'] + without['request_misses'],
        'switch_to_output_ms_hit': with_prefetch['switch_to_output_hit_us_p50'] / 1e3,
        'switch_to_output_ms_hit_p99': with_prefetch['switch_to_output_hit_us_p99'] / 1e3,
        'hit_over_nearby_ticks_ms_p50': with_prefetch['hit_over_nearby_ticks_ms_p50'],
        'switch_to_output_ms_miss': without['switch_to_output_miss_us_p50'] / 1e3,
    }
    run['targets_met'] = run_targets(run)
    return run


def run_targets(run: dict) -> dict:
    """
    Return which of the issue's targets one run meets.

    The hit's context-change-to-output is compared with the median tick of the same episodes
    of the same loop (the step of every tick without a switch, measured just before and after
    it: the hit's span less the switch and the few microseconds of the follower after the
    request): an 11-swap median against a tick measured minutes earlier compared the machine's
    state at two times, and was met or missed by a few hundredths of a millisecond.
    """
    return {
        'tick_p99_ratio_prefetch_vs_idle': run['tick_p99_ratio_prefetch_vs_idle'] <= P99_TARGET,
        'switch_to_output_ms_hit': run['switch_to_output_ms_hit'] <= run['tick_ms'] + 1.0,
        'hit_rate': run['hit_rate'] >= 0.95,
        'hits_without_prefetch': run['hits_without_prefetch'] == 0,
    }


RUN_KEYS = ('tick_p99_ratio_prefetch_vs_idle', 'tick_p99_ratio_interval',
            'tick_in_process_p99_ratio_prefetch_vs_idle', 'tick_p99_ms_idle',
            'tick_p99_ms_prefetch', 'tick_ms', 'tick_ms_idle_blocks', 'switch_to_output_ms_hit',
            'hit_over_nearby_ticks_ms_p50',
            'hit_rate', 'targets_met')
SPREAD_KEYS = ('tick_p99_ratio_prefetch_vs_idle', 'tick_in_process_p99_ratio_prefetch_vs_idle',
               'tick_p99_ms_idle', 'tick_p99_ms_prefetch', 'tick_ms', 'switch_to_output_ms_hit')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate-hz', type=float, default=10.0)
    parser.add_argument('--blocks', type=int, default=48,
                        help='alternating idle/prefetching blocks (ABBA order)')
    parser.add_argument('--ticks-per-block', type=int, default=40)
    parser.add_argument('--episodes', type=int, default=12,
                        help='scenario episodes with prefetch (two swaps each)')
    parser.add_argument('--episodes-without', type=int, default=3,
                        help='scenario episodes without prefetch (misses)')
    parser.add_argument('--runs', type=int, default=3,
                        help='consecutive runs, which must agree within 10 %% (default 3)')
    parser.add_argument('--output', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in ('blocks', 'ticks_per_block', 'episodes', 'episodes_without', 'runs'):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    torch.set_num_threads(1)
    period = 1.0 / args.rate_hz
    base = wide_base()
    x = torch.randint(0, 1024, (1, 8))
    runs, cold = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        adapter_mb = write_large_adapters(base, root)
        gc.collect()
        for _ in range(args.runs):
            runs.append(one_run(base, root, x, period, args, cold))
            print(f'run {len(runs)} of {args.runs}')
            print_table(runs[-1])
    results = dict(runs[-1])
    results.update({
        'runs': [{k: r[k] for k in RUN_KEYS} for r in runs],
        'run_spread_pct': {k: _spread(runs, k) for k in SPREAD_KEYS},
        'tick_period_ms': period * 1e3,
        'cold_load_ms': statistics.median(cold) * 1e3,
        'adapter_mb': adapter_mb,
        'workload': 'GPT-2 6x512, vocab 1024, input 1x8, 1 torch thread; 3 adapters r=256 '
                    f'({adapter_mb:.1f} MB); 2 slots, keep_inactive=False, no host cache; '
                    f'{args.blocks} blocks of {args.ticks_per_block} ticks at {args.rate_hz} Hz, '
                    f'{args.episodes} scenario episodes with prefetch, {args.episodes_without} '
                    f'without, {args.runs} runs',
        'machine': f'{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}',
    })
    results.update(verdict(runs, adapter_mb))
    print_verdict(runs, results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    print(f'\nwrote {args.output}')
    return 0


def verdict(runs: list, adapter_mb: float) -> dict:
    """
    Return the targets over all runs: every run must meet each, and the runs must agree.

    Agreement is the spread of the tick p99 ratio, (max - min) / mean, at most 10 %; one run
    cannot show it, so a single run never passes.
    """
    met = {key: all(r['targets_met'][key] for r in runs) for key in runs[0]['targets_met']}
    met['adapter_mb'] = adapter_mb >= 50.0
    spread = _spread(runs, 'tick_p99_ratio_prefetch_vs_idle')
    agree = len(runs) >= 3 and spread <= AGREEMENT_PCT
    return {'targets_met': met, 'runs_agree_within_10pct': agree,
            'all_targets_met': all(met.values()) and agree}


def print_verdict(runs: list, results: dict) -> None:
    print(f'{len(runs)} runs:')
    for i, r in enumerate(runs, 1):
        low, high = r['tick_p99_ratio_interval']
        print(f"  run {i}: tick p99 ratio {r['tick_p99_ratio_prefetch_vs_idle']:.3f}x "
              f'(90% interval {low:.3f}..{high:.3f}, target <= {P99_TARGET}), in-process '
              f"{r['tick_in_process_p99_ratio_prefetch_vs_idle']:.3f}x; hit "
              f"{r['switch_to_output_ms_hit']:.2f} ms vs tick {r['tick_ms']:.2f} ms + 1 "
              f"(over the ticks around it {_ms(r['hit_over_nearby_ticks_ms_p50'])}); "
              f"hit rate {r['hit_rate']:.0%}; targets "
              + ('met' if all(r['targets_met'].values()) else 'NOT met: ' + ', '.join(
                  k for k, v in r['targets_met'].items() if not v)))
    spread = results['run_spread_pct']['tick_p99_ratio_prefetch_vs_idle']
    print(f'  spread of the tick p99 ratio between runs: {spread:.1f} % (target <= '
          f'{AGREEMENT_PCT:.0f} %, over at least 3 runs): '
          + ('met' if results['runs_agree_within_10pct'] else 'NOT met'))
    missed = [k for k, v in results['targets_met'].items() if not v]
    if not results['runs_agree_within_10pct']:
        missed.append('runs_agree_within_10pct')
    print('VERDICT: ' + ('all targets met' if not missed else 'NOT met: ' + ', '.join(missed)))


def _spread(runs, key):
    values = [r[key] for r in runs]
    mean = statistics.mean(values)
    return (max(values) - min(values)) / mean * 100 if mean else 0.0


def _ms(value):
    return 'no hits' if value is None else f'{value:+.2f} ms'


def print_table(r):
    idle, busy = r['idle'], r['prefetch']
    rows = [
        ('tick p50 / p99, idle', f"{idle['p50_ms']:.2f} / {idle['p99_ms']:.2f} ms",
         f"{idle['ticks']} ticks"),
        ('tick p50 / p99, prefetching 50 MB adapters',
         f"{busy['p50_ms']:.2f} / {busy['p99_ms']:.2f} ms",
         f"{busy['ticks']} ticks, {r['prefetch_loads_during_measurement']} loads"),
        ('tick p99 ratio (90% bootstrap interval)',
         '{:.3f}x ({:.3f}..{:.3f})'.format(r['tick_p99_ratio_prefetch_vs_idle'],
                                           *r['tick_p99_ratio_interval']), '<= 1.10x'),
        ('tick p99 ratio, outside stalls removed',
         f"{r['tick_in_process_p99_ratio_prefetch_vs_idle']:.3f}x", ''),
        ('GIL/lock wait p99, idle / prefetching',
         f"{idle['gil_or_lock_wait_p99_ms']:.2f} / {busy['gil_or_lock_wait_p99_ms']:.2f} ms", ''),
        ('loader CPU inside ticks (ticks with > 0.1 ms)',
         f"{busy['loader_cpu_in_ticks_total_ms']:.1f} ms ({busy['ticks_with_loader_cpu']})",
         f"of {busy['loader_cpu_total_ms']:.0f} ms"),
        ('GC pause total, idle / prefetching',
         f"{idle['gc_total_ms']:.1f} / {busy['gc_total_ms']:.1f} ms", ''),
        ('CPU wait: outside / own loader (idle)',
         f"{idle['runq_outside_total_ms']:.0f} / {idle['runq_inside_total_ms']:.0f} ms", ''),
        ('CPU wait: outside / own loader (prefetching)',
         f"{busy['runq_outside_total_ms']:.0f} / {busy['runq_inside_total_ms']:.0f} ms", ''),
        (f"stalls > {r['stall_threshold_ms']:.0f} ms by cause, idle",
         ', '.join(f'{k} {v}' for k, v in r['stalls_idle'].items() if v) or 'none', ''),
        ('stalls by cause, prefetching',
         ', '.join(f'{k} {v}' for k, v in r['stalls_prefetch'].items() if v) or 'none', ''),
        ('hit rate with prefetch', f"{r['hit_rate']:.0%} of {r['swaps_with_prefetch']} swaps",
         '>= 95%'),
        ('hits without prefetch',
         f"{r['hits_without_prefetch']} of {r['swaps_without_prefetch']} swaps", '0'),
        ('context change -> first output, hit (p50)',
         f"{r['switch_to_output_ms_hit']:.2f} ms (p99 {r['switch_to_output_ms_hit_p99']:.2f})",
         f"<= tick p50 + 1 ms = {r['tick_ms'] + 1:.2f} ms"),
        ('hit less the median of the 20 ticks around it (p50)',
         _ms(r['hit_over_nearby_ticks_ms_p50']), 'what the switch added'),
        ('tick p50: same episodes / idle blocks',
         f"{r['tick_ms']:.2f} / {r['tick_ms_idle_blocks']:.2f} ms", ''),
        ('context change -> first output, miss (p50)',
         f"{r['switch_to_output_ms_miss']:.2f} ms", ''),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)))
    print()


if __name__ == '__main__':
    sys.exit(main())
