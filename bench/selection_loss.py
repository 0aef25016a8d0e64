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
Score trained visuomotor model sets offline, as ``train-demo --candidates`` chooses among them.

The experts drive the selection segments (seeds 30000 onwards, never trained on, without
noise); each model set's adapters are scored by their loss on those ticks (mean squared error
of the decoded speed and offset against their expert's), one line per set, summed and per
adapter. A collapsed fit (one that passes spills on a default side) scores about twice a good
one (docs/behaviour.md, "Choosing among candidate fits"); a closed-loop validation of 100
episodes takes 10-20 min where this takes seconds a set.

    python bench/selection_loss.py DIR [DIR ...] [--situations 60]
"""

import argparse
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapter_switcher.demo.closed_loop import expert_driver  # noqa: E402
from adapter_switcher.demo.closed_loop import open_route_loop  # noqa: E402
from adapter_switcher.demo.policy_kinds import VISUOMOTOR  # noqa: E402
from adapter_switcher.demo.train_cli import ROLLOUT_TIME_LIMIT_S  # noqa: E402
from adapter_switcher.demo.train_cli import ROUTE_ADAPTERS  # noqa: E402
from adapter_switcher.demo.train_cli import SELECTION_SEEDS  # noqa: E402
from adapter_switcher.demo.training import run_episodes  # noqa: E402
from adapter_switcher.demo.training import score_models  # noqa: E402
import torch  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('models', nargs='+', type=Path,
                        help='directories with base_policy.safetensors and adapters/')
    parser.add_argument('--situations', type=int, default=60,
                        help=f'selection segments, seeds {SELECTION_SEEDS} onwards')
    args = parser.parse_args(argv)
    if args.situations < 1:
        parser.error(f'--situations must be at least 1, got {args.situations}')
    for models in args.models:
        if not (models / 'adapters').is_dir():
            parser.error(f'{models}: no adapters/ directory (not a trained model set)')
    torch.set_num_threads(1)
    loop = open_route_loop(VISUOMOTOR.encoder)
    try:
        selection = []
        seeds = range(SELECTION_SEEDS, SELECTION_SEEDS + args.situations)
        run_episodes(loop, expert_driver(), seeds, selection, 'selection segments',
                     ROLLOUT_TIME_LIMIT_S, situation=True)
    finally:
        loop.sim.close()
    for models in args.models:
        scores = score_models(models, selection, ROUTE_ADAPTERS, VISUOMOTOR)
        print(f'{models}: {sum(scores.values()):.4f} (' +
              ', '.join(f'{name} {loss:.4f}' for name, loss in scores.items()) + ')',
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
