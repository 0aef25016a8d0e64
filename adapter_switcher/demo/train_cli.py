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
``adapter-switcher train-demo``: DAgger for the visuomotor base and its three adapters.

It trains on episodes of the full route (config/scenario.yaml) switched by
config/route_rules.yaml, on seeds ``TRAINING_SEEDS`` onwards, validates on
``VALIDATION_SEEDS`` onwards, and writes to ``--out`` only: the package's own models/ change only
when ``--out`` names them. Held-out seeds for bench/closed_loop.py start at
``HELD_OUT_FIRST_SEED``, which no training or validation run reaches.
"""

import math
from pathlib import Path
from typing import Sequence

ROUTE_ADAPTERS = ('navigation', 'hazard', 'slow_zone')
TRAINING_SEEDS = 0            # round r drives seeds r * episodes ...
SITUATION_SEEDS = 20_000      # ... and situation segments of seeds 20000 + r * situations ...
SELECTION_SEEDS = 30_000      # ... segments that choose among --candidates, never trained on
VALIDATION_SEEDS = 50_000
HELD_OUT_FIRST_SEED = 100_000
# Recorded rounds end here (validation at the benchmark's ROUTE_TIME_LIMIT_S): past the experts'
# 65-92 s for the route, short of the minutes a stuck learner would fill with the same tick.
ROLLOUT_TIME_LIMIT_S = 120.0
DEFAULT_OUT = 'demo_models'


def register(subparsers) -> None:
    """Add the ``train-demo`` subcommand."""
    train = subparsers.add_parser(
        'train-demo', help="train the demo policy and adapters on the simulator's experts",
        description='DAgger in the embedded simulator on the full warehouse route: the '
                    'visuomotor base and the navigation, hazard and slow_zone adapters learn '
                    'from the scripted experts, then are validated in closed loop through the '
                    'engine (2 resident slots, prefetch). Writes OUT/base_policy.safetensors '
                    'and OUT/adapters/<name>/.')
    train.add_argument('--out', type=Path, default=Path(DEFAULT_OUT),
                       help=f'output directory (default: ./{DEFAULT_OUT}; the shipped models '
                            'change only if this names them)')
    train.add_argument('--steps', type=int, default=3000, help='training steps per model')
    train.add_argument('--seed', type=int, default=0, help='random seed')
    train.add_argument('--rounds', type=int, default=3, help='DAgger rounds after the experts')
    train.add_argument('--episodes', type=int, default=10, help='episodes per round')
    train.add_argument('--situations', type=int, default=30,
                       help='situation segments per round (a few metres of route around one '
                            'spill or the slow zone), besides the full-route episodes')
    train.add_argument('--validation-episodes', type=int, default=10,
                       help='closed-loop validation episodes')
    train.add_argument('--augment', nargs='+', default=[],
                       choices=('images', 'odometry', 'route'),
                       metavar='{images,odometry,route}',
                       help='training-time jitter, drawn from --seed: images (brightness, '
                            'colour, shifts of up to 2 pixels), odometry (random velocities '
                            'in place of the recorded ones, so the policy cannot copy its '
                            'own yaw rate), route (random route carrots, so it cannot read a '
                            "detour's side from where its own commands took it)")
    train.add_argument('--candidates', type=int, default=1,
                       help='model sets (base and adapters) fitted from different seeds at '
                            'each fit; the one that imitates the experts best on the '
                            'selection segments is kept (default: 1, no choice)')
    train.add_argument('--selection-situations', type=int, default=60,
                       help=f'situation segments (seeds {SELECTION_SEEDS} onwards) the experts '
                            'drive to choose among --candidates')
    train.add_argument('--init', type=Path, metavar='DIR',
                       help='models (base_policy.safetensors and adapters/) that drive the '
                            'first learned round instead of a fit on round 0: DAgger '
                            'continued from models already trained; needs --rounds >= 1')
    train.add_argument('--base', type=Path, metavar='DIR',
                       help='models whose base every fit keeps, frozen as on the robot: only '
                            "the --adapters are fitted on it, DIR's other adapters are copied "
                            'as they are')
    train.add_argument('--adapters', nargs='+', choices=ROUTE_ADAPTERS, metavar='NAME',
                       help=f'the adapters to fit, of {", ".join(ROUTE_ADAPTERS)} (default: '
                            'all; fewer only with --base)')
    train.add_argument('--off-situation', type=float, default=0.0, metavar='SHARE',
                       help='each adapter also learns its expert on this share (of its own '
                            "ticks' number) of the ticks where its situation did not hold, so "
                            'that alone it drives as its expert would there (default: 0)')
    train.set_defaults(handler=_train_demo)


def _train_demo(args) -> int:
    import torch

    from adapter_switcher.core import AdapterError
    from adapter_switcher.core import BaseModelError
    from adapter_switcher.demo.adapters import BASE_WEIGHTS
    from adapter_switcher.demo.closed_loop import open_route_loop
    from adapter_switcher.demo.closed_loop import ROUTE_TIME_LIMIT_S
    from adapter_switcher.demo.policy_kinds import VISUOMOTOR
    from adapter_switcher.demo.training import check_kept_base
    from adapter_switcher.demo.training import train_demo

    for name in ('steps', 'rounds', 'episodes', 'situations', 'validation_episodes',
                 'candidates', 'selection_situations'):
        least = 0 if name in ('rounds', 'situations') else 1
        if getattr(args, name) < least:
            print(f'train-demo: --{name.replace("_", "-")} must be at least {least}, got '
                  f'{getattr(args, name)}')
            return 2
    if args.init is not None and args.rounds < 1:
        print('train-demo: --init needs --rounds of at least 1: its models drive the first '
              'learned round')
        return 2
    if args.init is not None and not (args.init / BASE_WEIGHTS).is_file():
        print(f'train-demo: --init {args.init}: no {BASE_WEIGHTS} there (expected a '
              'directory that train-demo --out wrote)')
        return 2
    try:
        check_kept_base(args.base, ROUTE_ADAPTERS, args.adapters or ROUTE_ADAPTERS, VISUOMOTOR)
    except (ValueError, BaseModelError) as error:
        print(f'train-demo: --base/--adapters: {error}')
        return 2
    if not 0.0 <= args.off_situation < math.inf:
        print(f'train-demo: --off-situation must be a number of at least 0, got '
              f'{args.off_situation}')
        return 2
    last_training = SITUATION_SEEDS + (args.rounds + 1) * args.situations - 1
    if args.candidates > 1 and (last_training >= SELECTION_SEEDS or SELECTION_SEEDS +
                                args.selection_situations > VALIDATION_SEEDS):
        print(f'train-demo: with --candidates, the training segments (seeds {SITUATION_SEEDS}'
              f'-{last_training}) must stay below the selection segments ({SELECTION_SEEDS}'
              f'-{SELECTION_SEEDS + args.selection_situations - 1}), and those below the '
              f'validation seeds ({VALIDATION_SEEDS} on)')
        return 2
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    try:
        report = train_demo(loop, args.out, rounds=args.rounds, episodes=args.episodes,
                            steps=args.steps, seed=args.seed, adapters=ROUTE_ADAPTERS,
                            kind=VISUOMOTOR, first_seed=TRAINING_SEEDS,
                            time_limit_s=ROUTE_TIME_LIMIT_S,
                            rollout_time_limit_s=ROLLOUT_TIME_LIMIT_S,
                            situations=args.situations, first_situation_seed=SITUATION_SEEDS,
                            augment=args.augment,
                            evaluation_seeds=range(VALIDATION_SEEDS,
                                                   VALIDATION_SEEDS + args.validation_episodes),
                            candidates=args.candidates,
                            selection_seeds=range(SELECTION_SEEDS,
                                                  SELECTION_SEEDS + args.selection_situations),
                            initial=args.init, base=args.base, fitted=args.adapters,
                            off_situation=args.off_situation)
    except AdapterError as error:  # --init models are loaded first: nothing is written yet
        if args.init is None:
            raise
        print(f'train-demo: --init {args.init}: {error}')
        return 2
    finally:
        loop.sim.close()
    for round_index, successes in report.rounds:
        driver = 'experts' if round_index == 0 else 'learned models'
        print(f'round {round_index} ({driver}): {successes}/{args.episodes + args.situations} '
              'episodes and situations succeeded')
    if args.candidates > 1:
        _print_selection(args.out, args.candidates, args.adapters or ROUTE_ADAPTERS)
    wins = sum(result.success for result in report.evaluation)
    print(f'validation (switched, 2 slots, prefetch): {wins}/{len(report.evaluation)} episodes '
          'completed without collision, spill entry or slow-zone violation')
    alone = sum(result.success for result in report.navigation_only)
    print(f'navigation adapter alone: {alone}/{len(report.navigation_only)}')
    print(f'models written to {args.out}')
    return 0


def _print_selection(out: Path, candidates: int, fitted: Sequence[str]) -> None:
    """Print each candidate's selection loss (summed over the fitted adapters), from manifests."""
    from adapter_switcher.core.adapter_files import MANIFEST
    from adapter_switcher.core.adapter_files import read_manifest
    from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR

    metrics = [read_manifest(out / ADAPTERS_SUBDIR / name / MANIFEST).metrics
               for name in fitted]
    sums = [sum(m[f'selection_loss_{k}'] for m in metrics) for k in range(candidates)]
    kept = min(range(candidates), key=sums.__getitem__)
    print(f'candidates: kept {kept + 1} of {candidates}; selection loss (mean squared error '
          f'on the selection segments, summed over the adapters): '
          f'{", ".join(f"{loss:.4f}" for loss in sums)}')
