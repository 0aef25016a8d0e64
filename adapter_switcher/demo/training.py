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
Training the demo adapters on the scripted experts, by DAgger in the embedded simulator.

Round 0 drives with the experts (the one the context policy wants, plus noise); every later
round drives with the learned base and adapters exactly as the inference node runs them (the
engine, switched by the context policy through DecisionFollower) while the experts label each
tick. After each round the base and both adapters are refitted on everything recorded so far:
the base on the navigation expert's commands everywhere, each adapter only on the ticks where
the context policy wanted it, with that expert's commands. The result is the set of files the
inference node loads: ``base_policy.safetensors`` and ``adapters/<name>/``.
"""

from dataclasses import dataclass
from pathlib import Path
import shutil
import tempfile
from typing import Dict, List, Sequence, Tuple

from adapter_switcher.context.rules import ContextRules
from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.core.follower import DecisionFollower
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.adapters import save_demo_models
from adapter_switcher.demo.closed_loop import DemoLoop
from adapter_switcher.demo.closed_loop import Driver
from adapter_switcher.demo.closed_loop import EpisodeResult
from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import Tick
from adapter_switcher.demo.policy_model import decode_action
from adapter_switcher.demo.policy_model import encode_observation

import torch

FACTORY = 'adapter_switcher.demo.policy_model:build_policy'
DEMO_ADAPTERS = ('navigation', 'hazard')


@dataclass(frozen=True)
class TrainingReport:
    """
    Success per round (round 0 is the experts), and the final evaluation.

    ``navigation_only`` drives the same evaluation episodes with the navigation adapter and no
    switching: what the hazard adapter is worth.
    """

    rounds: List[Tuple[int, int]]
    evaluation: List[EpisodeResult]
    navigation_only: List[EpisodeResult]


class LearnedDriver:
    """
    Drives with the demo models in a directory, through the engine, as the node does.

    With ``fixed`` set, the engine stays on that adapter and ignores the context policy.
    """

    def __init__(self, models_dir: Path, rules: ContextRules, fixed: str = ''):
        base = load_base_model(BaseModelSpec(factory=FACTORY,
                                             weights=str(models_dir / BASE_WEIGHTS)))
        self.engine = AdapterEngine(base, [models_dir / ADAPTERS_SUBDIR],
                                    EngineConfig(num_slots=2, max_rank=16),
                                    probe_inputs=((encode_observation({}),), {}))
        self.engine.activate(fixed or rules.default)
        self.follower = None if fixed else DecisionFollower(self.engine, Prefetcher(self.engine))

    def __call__(self, tick: Tick):
        decision = tick.decision
        if self.follower is not None:
            self.follower.follow(decision.desired, decision.predicted, decision.confidence)
            self.engine.worker.wait_idle(10.0)
        return decode_action(self.engine.step(tick.observation).output)

    def close(self) -> None:
        self.engine.close()


def run_episodes(loop: DemoLoop, driver: Driver, seeds: Sequence[int],
                 record: List[Tick]) -> List[EpisodeResult]:
    return [loop.run(seed, driver, record=record) for seed in seeds]


def fit_from_ticks(out_dir: Path, ticks: Sequence[Tick], steps: int, seed: int) -> None:
    """Fit the base and the adapters on labelled ticks and write them to ``out_dir``."""
    obs = torch.cat([t.observation for t in ticks])
    navigation = torch.tensor([t.navigation_label for t in ticks], dtype=torch.float32)
    hazard = torch.tensor([t.hazard_label for t in ticks], dtype=torch.float32)
    wants = [t.decision.desired for t in ticks]
    adapter_data: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
    for name, labels in (('navigation', navigation), ('hazard', hazard)):
        rows = torch.tensor([w == name for w in wants])
        adapter_data[name] = (obs[rows], labels[rows])
    save_demo_models(out_dir, (obs, navigation), adapter_data, steps=steps, seed=seed)


def train_demo(loop: DemoLoop, out_dir: Path, rounds: int = 3, episodes: int = 12,
               steps: int = 1500, noise: float = 0.1, seed: int = 0,
               evaluation_seeds: Sequence[int] = range(1000, 1010)) -> TrainingReport:
    """Run DAgger for ``rounds`` and write the final models to ``out_dir``."""
    out_dir = Path(out_dir)
    ticks: List[Tick] = []
    history = []
    results = run_episodes(loop, expert_driver(noise, seed), range(episodes), ticks)
    history.append((0, sum(r.success for r in results)))
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for round_index in range(1, rounds + 1):
            fit_from_ticks(work, ticks, steps, seed + round_index)
            driver = LearnedDriver(work, loop.rules)
            seeds = range(round_index * episodes, (round_index + 1) * episodes)
            results = run_episodes(loop, driver, seeds, ticks)
            driver.close()
            history.append((round_index, sum(r.success for r in results)))
        fit_from_ticks(work, ticks, steps, seed + rounds + 1)
        out_dir = Path(out_dir)
        shutil.rmtree(out_dir / ADAPTERS_SUBDIR, ignore_errors=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / BASE_WEIGHTS, out_dir / BASE_WEIGHTS)
        shutil.copytree(work / ADAPTERS_SUBDIR, out_dir / ADAPTERS_SUBDIR,
                        copy_function=shutil.copyfile)
    evaluations = []
    for fixed in ('', 'navigation'):
        driver = LearnedDriver(out_dir, loop.rules, fixed)
        evaluations.append([loop.run(s, driver) for s in evaluation_seeds])
        driver.close()
    return TrainingReport(history, *evaluations)
