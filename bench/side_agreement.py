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
Side agreement of the hazard adapter with its teacher, on the teacher's states and on its own.

Two drivers run the same seeds of the full route (validation seeds from VALIDATION_SEEDS by
default: no training run and no held-out result uses them): ``teacher``, the scripted experts
switched by the rules (the states the adapters were fitted on), and ``learner``, the learned
adapters switched through the engine as in ``bench/closed_loop.py``'s ``switched`` (the
states the policy drives itself into). At each tick where the rules want ``hazard`` the
hazard adapter answers on that tick's observation beside the driver
(adapter_switcher.demo.side_agreement), and the share of ticks where it picks the teacher's
side is printed by time since the switch to ``hazard`` and by distance to the route's nearest
turn; written to bench/results/side_agreement.json.

    python bench/side_agreement.py [--episodes 60] [--first-seed 50000] [--workers 2]
                                   [--models models/demo/visuomotor]
"""

import argparse
from concurrent.futures import ProcessPoolExecutor
import json
import multiprocessing
from pathlib import Path
import sys
import time
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapter_switcher.demo.closed_loop import expert_driver  # noqa: E402
from adapter_switcher.demo.closed_loop import open_route_loop  # noqa: E402
from adapter_switcher.demo.closed_loop import ROUTE_TIME_LIMIT_S  # noqa: E402
from adapter_switcher.demo.policy_kinds import VISUOMOTOR  # noqa: E402
from adapter_switcher.demo.side_agreement import CORNER_M  # noqa: E402
from adapter_switcher.demo.side_agreement import side_agreement  # noqa: E402
from adapter_switcher.demo.side_agreement import SideProbe  # noqa: E402
from adapter_switcher.demo.side_agreement import SideSample  # noqa: E402
from adapter_switcher.demo.train_cli import VALIDATION_SEEDS  # noqa: E402
from adapter_switcher.demo.training import LearnedDriver  # noqa: E402
import torch  # noqa: E402

RESULT = ROOT / 'bench' / 'results' / 'side_agreement.json'
MODELS = 'models/demo/visuomotor'
DRIVERS = ('teacher', 'learner')


def probe_episodes(name: str, seeds: List[int], models: Path) -> List[SideSample]:
    """Drive ``seeds`` with driver ``name`` from a fresh simulator; return the probe's samples."""
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    learner = None
    if name == 'learner':
        learner = LearnedDriver(models, loop.rules, kind=VISUOMOTOR, num_slots=2, prefetch=True)
    probe = SideProbe(learner or expert_driver(), models, loop.rules)
    try:
        for seed in seeds:
            probe.start(seed)
            loop.run(seed, probe, time_limit_s=ROUTE_TIME_LIMIT_S, label=True, encode=True)
    finally:
        probe.close()
        if learner is not None:
            learner.close()
        loop.sim.close()
    return probe.samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--episodes', type=int, default=60)
    parser.add_argument('--first-seed', type=int, default=VALIDATION_SEEDS)
    parser.add_argument('--models', type=Path, default=ROOT / MODELS)
    parser.add_argument('--workers', type=int, default=2, choices=(1, 2),
                        help='2: the two drivers side by side, one process each')
    parser.add_argument('--output', type=Path, default=RESULT)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.first_seed < 0:
        parser.error('--episodes must be positive and --first-seed not negative')
    if not (args.models / 'adapters').is_dir():
        parser.error(f'{args.models}: no adapters/ directory (not a trained model set)')
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    start = time.perf_counter()
    if args.workers == 1:
        samples = [probe_episodes(name, seeds, args.models) for name in DRIVERS]
    else:
        context = multiprocessing.get_context('spawn')  # no renderer or torch state inherited
        with ProcessPoolExecutor(len(DRIVERS), mp_context=context) as pool:
            samples = list(pool.map(probe_episodes, DRIVERS, [seeds] * 2, [args.models] * 2))
    models = args.models.resolve()
    report = {'first_seed': args.first_seed, 'episodes': args.episodes,
              'models': str(models.relative_to(ROOT) if models.is_relative_to(ROOT) else models),
              'corner_m': CORNER_M,
              'wall_s': round(time.perf_counter() - start, 1)}
    for name, drawn in zip(DRIVERS, samples):
        report[name] = {'rows': side_agreement(drawn), 'samples': len(drawn)}
        print(f'{name}: side agreement of the hazard adapter (ticks where the teacher picks a '
              f'side)')
        for row in report[name]['rows']:
            low, high = row['since_switch_s']
            high = 'inf' if high is None else f'{high:.1f}'
            where = f'within {CORNER_M} m of a turn' if row['near_turn'] else 'away from turns'
            agree = '-' if row['agree'] is None else f"{row['agree']:.3f}"
            print(f'  {low:.1f}-{high} s after the switch, {where:24s} {agree:>6s} '
                  f"({row['ticks']} ticks, {row['episodes']} episodes)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + '\n')
    print(f'written to {args.output} ({report["wall_s"]} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
