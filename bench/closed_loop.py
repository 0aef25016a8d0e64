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
Closed-loop behaviour on held-out episodes of the full warehouse route, per configuration.

Every configuration drives the same held-out seeds (from ``--first-seed``, default
HELD_OUT_FIRST_SEED: no training or validation run uses them) in the ROS-free closed loop
(adapter_switcher.demo.closed_loop) on config/scenario.yaml with config/route_rules.yaml:

- expert_switched: the scripted experts, switched by the context rules (the teachers);
- expert_offsets: the experts' speeds and offsets (what the learned policy imitates), driven
  through the learned policy's tracking law and detour memory: the most a learner of those
  targets can make, since the law cannot turn away from a spill as the hazard expert does;
- base: the visuomotor base alone; <name>_only: one adapter, never switched;
- switched: the learned adapters switched by the context rules, through the engine with 2
  resident slots for 3 adapters and the predictor's prefetch, exactly as the inference node;
- switched_no_prefetch: the same without prefetch.

The configurations run interleaved in blocks of seeds (A, B, C, ..., A, B, C, ...), so machine
load drifts hit them alike. Each (configuration, block) starts from a fresh simulator, clock and
driver, so the episodes' results do not depend on the order the blocks run in: ``--workers N``
runs blocks in N processes (one torch thread each) with the same results as one. Written to
bench/results/closed_loop.json.

    python bench/closed_loop.py [--episodes 200] [--first-seed 100000] [--block 5]
                                [--workers 1] [--models models/demo/visuomotor]
                                [--configurations ...]
"""

import argparse
from concurrent.futures import ProcessPoolExecutor
import json
import multiprocessing
from pathlib import Path
import statistics
import sys
import time
from typing import List, NamedTuple, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapter_switcher.core.metrics import percentile  # noqa: E402
from adapter_switcher.demo.adapters import BASE_WEIGHTS  # noqa: E402
from adapter_switcher.demo.closed_loop import EpisodeResult  # noqa: E402
from adapter_switcher.demo.closed_loop import expert_driver  # noqa: E402
from adapter_switcher.demo.closed_loop import expert_offset_driver  # noqa: E402
from adapter_switcher.demo.closed_loop import open_route_loop  # noqa: E402
from adapter_switcher.demo.closed_loop import ROUTE_RULES  # noqa: E402
from adapter_switcher.demo.closed_loop import ROUTE_SCENARIO  # noqa: E402
from adapter_switcher.demo.closed_loop import ROUTE_TIME_LIMIT_S  # noqa: E402
from adapter_switcher.demo.policy_kinds import VISUOMOTOR  # noqa: E402
from adapter_switcher.demo.train_cli import HELD_OUT_FIRST_SEED  # noqa: E402
from adapter_switcher.demo.train_cli import ROUTE_ADAPTERS  # noqa: E402
from adapter_switcher.demo.training import LearnedDriver  # noqa: E402
from adapter_switcher.paths import share_dir  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

RESULT = ROOT / 'bench' / 'results' / 'closed_loop.json'
MODELS = 'models/demo/visuomotor'  # the shipped visuomotor base and its adapters
EXPERTS = {'expert_switched': expert_driver, 'expert_offsets': expert_offset_driver}
CONFIGURATIONS = (*EXPERTS, 'base', *(f'{name}_only' for name in ROUTE_ADAPTERS),
                  'switched', 'switched_no_prefetch')


def make_driver(name: str, models: Path, rules):
    """Return the driver of a learned configuration (the experts' are in EXPERTS)."""
    if name == 'base':
        return LearnedDriver(models, rules, fixed='base', kind=VISUOMOTOR)
    if name.endswith('_only'):
        return LearnedDriver(models, rules, fixed=name[:-len('_only')], kind=VISUOMOTOR)
    return LearnedDriver(models, rules, kind=VISUOMOTOR, num_slots=2,
                         prefetch=name == 'switched')


class Block(NamedTuple):
    """One configuration's episodes on a block of seeds, and its driver's switch records."""

    name: str
    results: List[EpisodeResult]
    hits: List[bool]
    switch_to_output_s: List[float]


def run_block(name: str, seeds: Sequence[int], models: Path) -> Block:
    """
    Drive ``seeds`` with configuration ``name`` from a fresh simulator and driver.

    The experts run without encoding observations, the learned drivers without the experts'
    labels: nobody reads them, and the episodes are the same.
    """
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    expert = EXPERTS.get(name)
    driver = None if expert else make_driver(name, models, loop.rules)
    try:
        results = [loop.run(seed, driver or expert(), time_limit_s=ROUTE_TIME_LIMIT_S,
                            label=driver is None, encode=driver is not None)
                   for seed in seeds]
    finally:
        if driver is not None:
            driver.close()
        loop.sim.close()
    return Block(name, results, list(getattr(driver, 'hits', [])),
                 list(getattr(driver, 'switch_to_output_s', [])))


def run_blocks(tasks, models: Path, workers: int, progress) -> List[Block]:
    """Run ``(name, seeds)`` tasks, in ``workers`` processes if more than one; in task order."""
    if workers == 1:
        blocks = []
        for name, seeds in tasks:
            progress.set_description(name)
            blocks.append(run_block(name, seeds, models))
            progress.update(len(seeds))
        return blocks
    context = multiprocessing.get_context('spawn')  # no renderer or torch state inherited
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(run_block, name, seeds, models) for name, seeds in tasks]
        for future, (_, seeds) in zip(futures, tasks):
            future.add_done_callback(lambda _, n=len(seeds): progress.update(n))
        return [future.result() for future in futures]


def summarise(blocks: Sequence[Block]) -> dict:
    """Return the configuration's object in the results file, from its blocks in seed order."""
    results = [r for block in blocks for r in block.results]
    done = [r.sim_time for r in results if r.reached_goal]
    hits = [h for block in blocks for h in block.hits]
    delays = [s * 1e3 for block in blocks for s in block.switch_to_output_s]
    return {
        'episodes': len(results),
        'success_rate': sum(r.success for r in results) / len(results),
        'reached_goal': sum(r.reached_goal for r in results),
        'spill_entries': sum(r.spill_entries for r in results),
        'collisions': sum(r.collisions for r in results),
        'slow_zone_violations': sum(r.slow_zone_violations for r in results),
        'mean_time_to_goal_s': statistics.fmean(done) if done else None,
        'switches': len(hits),
        'prefetch_hit_rate': sum(hits) / len(hits) if hits else None,
        'switch_to_output_ms_p50': percentile(delays, 50) if delays else None,
        'switch_to_output_ms_p99': percentile(delays, 99) if delays else None,
        'failed_seeds': [r.seed for r in results if not r.success],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--episodes', type=int, default=200)
    parser.add_argument('--first-seed', type=int, default=HELD_OUT_FIRST_SEED)
    parser.add_argument('--block', type=int, default=5, help='seeds per interleaved block')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes running blocks at once (results do not depend on it)')
    parser.add_argument('--models', type=Path, default=share_dir() / MODELS)
    parser.add_argument('--configurations', nargs='+', default=list(CONFIGURATIONS),
                        choices=CONFIGURATIONS)
    parser.add_argument('--output', type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.block < 1 or args.first_seed < 0 or args.workers < 1:
        parser.error('--episodes, --block and --workers must be positive, --first-seed '
                     'non-negative')
    if not (args.models / BASE_WEIGHTS).is_file():
        parser.error(f'--models {args.models}: no {BASE_WEIGHTS} there')
    configurations = list(dict.fromkeys(args.configurations))
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    tasks = [(name, seeds[block:block + args.block])
             for block in range(0, len(seeds), args.block) for name in configurations]
    start = time.perf_counter()
    progress = tqdm(total=len(seeds) * len(configurations), unit='episode', disable=None)
    try:
        blocks = run_blocks(tasks, args.models, args.workers, progress)
    finally:
        progress.close()
    report = {'first_seed': args.first_seed, 'episodes': args.episodes,
              'wall_s': round(time.perf_counter() - start, 1), 'workers': args.workers,
              'block': args.block, 'models': _shown(args.models), 'scenario': ROUTE_SCENARIO,
              'rules': ROUTE_RULES}
    for name in configurations:
        report[name] = summarise([block for block in blocks if block.name == name])
    report = merged(args.output, report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + '\n')
    print(f'{"configuration":22} {"success":>8} {"spills":>6} {"coll":>5} {"zone":>5} '
          f'{"t_goal":>7} {"hit":>5} {"s2o p50":>8} {"p99":>7}')
    for name in (n for n in CONFIGURATIONS if n in report):
        r = report[name]
        print(f'{name:22} {r["success_rate"]:8.3f} {r["spill_entries"]:6d} '
              f'{r["collisions"]:5d} {r["slow_zone_violations"]:5d} '
              f'{_fmt(r["mean_time_to_goal_s"], 7, 1)} {_fmt(r["prefetch_hit_rate"], 5, 2)} '
              f'{_fmt(r["switch_to_output_ms_p50"], 8, 2)} '
              f'{_fmt(r["switch_to_output_ms_p99"], 7, 2)}')
    print(f'{args.episodes} episodes from seed {args.first_seed} in {report["wall_s"]:.0f} s; '
          f'written to {args.output}')
    return 0


def merged(path: Path, report: dict) -> dict:
    """
    Return ``report`` plus the other configurations of an earlier run on the same seeds.

    So configurations can run as separate processes (``--configurations``) into one file; a
    run on other seeds, or one that reruns every configuration kept there, replaces the file
    (and its wall time).
    """
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return report
    same_seeds = (earlier.get('first_seed'), earlier.get('episodes')) == \
        (report['first_seed'], report['episodes'])
    if not same_seeds:
        return report
    kept = [name for name in CONFIGURATIONS if name in earlier and name not in report]
    if not kept:
        return report
    combined = {name: earlier[name] for name in kept}
    combined.update(report)
    combined['wall_s'] = round(earlier.get('wall_s', 0.0) + report['wall_s'], 1)
    return combined


def _shown(path: Path) -> str:
    """Return a path relative to the checkout when it is inside it (results stay portable)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _fmt(value, width: int, digits: int) -> str:
    return f'{value:{width}.{digits}f}' if value is not None else f'{"-":>{width}}'


if __name__ == '__main__':
    sys.exit(main())
