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
engine, switched by the context policy through DecisionFollower, with prefetch) while the
experts label each tick. After each round the base and the adapters are refitted on everything
recorded so far: the base on the navigation expert's commands everywhere, each adapter only on
the ticks where the context policy wanted it, with that adapter's expert's commands. The
result is the set of files the inference node loads: ``base_policy.safetensors`` and
``adapters/<name>/``. Either policy network trains this way (:mod:`policy_kinds`).
"""

import copy
from dataclasses import dataclass
from dataclasses import replace
from functools import partial
from pathlib import Path
import shutil
import tempfile
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from adapter_switcher.context.rules import ContextRules
from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import EngineConfig
from adapter_switcher.core import load_base_model
from adapter_switcher.core.adapter_files import MANIFEST
from adapter_switcher.core.adapter_files import read_manifest
from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.core.follower import DecisionFollower
from adapter_switcher.core.prefetch import Prefetcher
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.adapters import save_demo_models
from adapter_switcher.demo.adapters import selection_loss
from adapter_switcher.demo.closed_loop import DemoLoop
from adapter_switcher.demo.closed_loop import Driver
from adapter_switcher.demo.closed_loop import EPISODE_TIME_LIMIT_S
from adapter_switcher.demo.closed_loop import EpisodeResult
from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import Tick
from adapter_switcher.demo.policy_kinds import FEATURE_MLP
from adapter_switcher.demo.policy_kinds import PolicyKind

from peft import PeftModel
import torch
from tqdm import tqdm

FACTORY = FEATURE_MLP.factory
DEMO_ADAPTERS = ('navigation', 'hazard')
# Rounds record tens of thousands of ticks: consecutive ones (0.05 s apart) are near copies, so
# every second one is kept, and its observation in half precision (pixels k/255 to 3 digits).
RECORD_STRIDE = 2


@dataclass(frozen=True)
class TrainingReport:
    """
    Success per round (round 0 is the experts), and the final evaluation.

    ``navigation_only`` drives the same evaluation episodes with the navigation adapter and no
    switching: what the other adapters are worth.
    """

    rounds: List[Tuple[int, int]]
    evaluation: List[EpisodeResult]
    navigation_only: List[EpisodeResult]


class LearnedDriver:
    """
    Drives with the demo models in a directory, through the engine, as the node does.

    With ``fixed`` set, the engine stays on that adapter and ignores the context policy; with
    ``fixed='base'`` it runs the base model alone. ``num_slots`` resident slots (fewer than
    adapters: the predictor's prefetch must bring the next one in); ``prefetch=False`` follows
    the context without prefetching.
    """

    def __init__(self, models_dir: Path, rules: ContextRules, fixed: str = '',
                 kind: PolicyKind = FEATURE_MLP, num_slots: int = 2, prefetch: bool = True):
        base = load_base_model(BaseModelSpec(factory=kind.factory,
                                             weights=str(Path(models_dir) / BASE_WEIGHTS)))
        self.engine = AdapterEngine(base, [Path(models_dir) / ADAPTERS_SUBDIR],
                                    EngineConfig(num_slots=num_slots, max_rank=16),
                                    probe_inputs=((torch.zeros(1, kind.obs_dim),), {}))
        self.kind = kind
        self.base_only = fixed == 'base'
        if not self.base_only:
            self.engine.activate(fixed or rules.default)
        self.follower = None if fixed else DecisionFollower(
            self.engine, Prefetcher(self.engine) if prefetch else None)
        self.hits: List[bool] = []  # per applied switch: was the adapter resident already
        self.switch_to_output_s: List[float] = []  # context change -> first output with it
        self._wanted: Optional[str] = None
        self._since: Optional[float] = None

    def __call__(self, tick: Tick):
        decision = tick.decision
        if self.base_only:
            with torch.inference_mode():
                return self.kind.command(tick, self.engine.model(tick.observation))
        if self.follower is not None:
            if decision.desired != self._wanted:
                self._wanted, self._since = decision.desired, time.perf_counter()
            self.follower.follow(decision.desired, decision.predicted, decision.confidence)
            self.engine.worker.wait_idle(10.0)
        result = self.engine.step(tick.observation)
        if result.swap is not None:
            self.hits.append(not result.swap.cold)
        if self._since is not None and result.adapter == self._wanted:
            if result.swap is not None:
                self.switch_to_output_s.append(time.perf_counter() - self._since)
            self._since = None
        return self.kind.command(tick, result.output)

    def close(self) -> None:
        self.engine.close()


def run_episodes(loop: DemoLoop, driver: Driver, seeds: Sequence[int],
                 record: Optional[List[Tick]], desc: str = 'episodes',
                 time_limit_s: float = EPISODE_TIME_LIMIT_S,
                 label: bool = True, situation: bool = False) -> List[EpisodeResult]:
    """
    Drive ``seeds`` with ``driver`` (progress bar); record every RECORD_STRIDE-th tick.

    The ticks are appended to ``record`` (None: not recorded).

    ``label=False``: without the experts' labels, for learned drivers evaluated, not recorded.
    ``situation=True``: each seed's situation segment instead of the whole route.
    """
    results = []
    for seed in tqdm(seeds, desc=desc, unit='episode', leave=False, disable=None):
        first = len(record) if record is not None else 0
        results.append(loop.run(seed, driver, time_limit_s=time_limit_s, record=record,
                                label=label, situation=situation))
        if record is not None:  # every RECORD_STRIDE-th tick, in half precision
            record[first:] = [replace(t, observation=t.observation.half())
                              for t in record[first::RECORD_STRIDE]]
    return results


def fit_from_ticks(out_dir: Path, ticks: Sequence[Tick], steps: int, seed: int,
                   adapters: Sequence[str] = DEMO_ADAPTERS, kind: PolicyKind = FEATURE_MLP,
                   metrics: Optional[Mapping[str, Mapping[str, float]]] = None,
                   augment: Sequence[str] = (), candidates: int = 1,
                   selection: Sequence[Tick] = (), base: Optional[Path] = None,
                   off_situation: float = 0.0) -> None:
    """
    Fit the base and the adapters on labelled ticks and write them to ``out_dir``.

    Each adapter learns its expert where the context wanted it, and where its expert was
    already acting on what it saw (``Tick.engaged``: a spill in view before the rules switch,
    so the hazard adapter sees the approach, not only the detour); an adapter the context
    never wanted in these ticks learns its expert on all of them. ``off_situation`` > 0 adds
    that share (of its own ticks' number) of the other ticks, drawn from ``seed``, with its
    expert's commands there: an adapter then drives as its expert would off its situation
    (the hazard adapter at the route's speed where no spill is near) instead of carrying its
    situation's behaviour everywhere.
    ``base``: a models directory whose base is kept, frozen as on the robot; only
    ``adapters`` are fitted on it, and its other adapters are copied as they are.
    ``augment``: names of ``kind.augmentations`` that jitter every minibatch (an unknown name
    raises ValueError). ``candidates`` > 1 fits that many sets and keeps the one that imitates
    the experts best on the held-back ``selection`` ticks, split among the adapters the same
    way (:func:`~adapter_switcher.demo.adapters.save_demo_models`).
    """
    jitter = kind.augmentation(augment)
    obs = torch.cat([t.observation for t in ticks])
    if base is None:
        base_data = (obs, torch.tensor([kind.target(t, 'navigation') for t in ticks],
                                       dtype=torch.float32))
    else:
        base_data = load_base_model(BaseModelSpec(factory=kind.factory,
                                                  weights=str(Path(base) / BASE_WEIGHTS)))
    held_back = (_adapter_data(selection, torch.cat([t.observation for t in selection]),
                               adapters, kind) if selection else None)
    save_demo_models(out_dir, base_data,
                     _adapter_data(ticks, obs, adapters, kind, off_situation, seed),
                     steps=steps, seed=seed, build=kind.build,
                     target_modules=kind.target_modules, metrics=metrics, batch=kind.batch,
                     augment=jitter, decode=kind.decode_batch, anneal=kind.anneal,
                     candidates=candidates, selection=held_back)
    if base is not None:
        for kept in sorted((Path(base) / ADAPTERS_SUBDIR).iterdir()):
            if kept.is_dir() and kept.name not in adapters:
                shutil.copytree(kept, Path(out_dir) / ADAPTERS_SUBDIR / kept.name,
                                copy_function=shutil.copyfile, dirs_exist_ok=True)


def _adapter_data(ticks: Sequence[Tick], obs: torch.Tensor, adapters: Sequence[str],
                  kind: PolicyKind, off_situation: float = 0.0,
                  seed: int = 0) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Return each adapter's ``(observations, its expert's targets)`` (see fit_from_ticks)."""
    generator = torch.Generator().manual_seed(seed)
    data = {}
    for name in adapters:
        rows = adapter_rows(ticks, name, off_situation, generator)
        labels = torch.tensor([kind.target(ticks[i], name) for i in rows], dtype=torch.float32)
        data[name] = (obs[rows], labels.reshape(-1, 2))
    return data


def adapter_rows(ticks: Sequence[Tick], name: str, off_situation: float = 0.0,
                 generator: Optional[torch.Generator] = None) -> List[int]:
    """
    Return the indices of the ticks adapter ``name`` learns from (see fit_from_ticks).

    Its situation's ticks (the context wanted it, or its expert was engaged), all ticks if
    there are none, then ``off_situation`` times their number of the other ticks (at most all
    of them), drawn by ``generator``.
    """
    rows = [i for i, t in enumerate(ticks) if t.decision.desired == name or name in t.engaged]
    if not rows or off_situation <= 0.0:
        return rows or list(range(len(ticks)))
    others = sorted(set(range(len(ticks))) - set(rows))
    drawn = torch.randperm(len(others), generator=generator)[:int(off_situation * len(rows))]
    return rows + [others[i] for i in drawn.tolist()]


def check_kept_base(base: Optional[Path], adapters: Sequence[str], fitted: Sequence[str],
                    kind: PolicyKind) -> None:
    """
    Raise unless ``fitted`` adapters can be trained alone on ``base``'s base.

    Without a base every adapter is fitted (a new base needs them all); with one, its base
    must load (BaseModelError if it does not) and it must hold every adapter of ``adapters``
    not fitted, to be copied (ValueError for either of the others).
    """
    if base is None:
        if set(fitted) != set(adapters):
            raise ValueError('a new base needs every adapter fitted on it; fitting '
                             f'{", ".join(fitted)} alone needs a base to keep')
        return
    weights = Path(base) / BASE_WEIGHTS
    if not weights.is_file():
        raise ValueError(f'{base}: no {BASE_WEIGHTS} there (expected a directory that '
                         'train-demo --out wrote)')
    load_base_model(BaseModelSpec(factory=kind.factory, weights=str(weights)))
    held = {d.name for d in (Path(base) / ADAPTERS_SUBDIR).glob('*') if d.is_dir()}
    missing = sorted(set(adapters) - set(fitted) - held)
    if missing:
        raise ValueError(f'{base}: no {", ".join(missing)} adapter there to keep; fit it too')


def score_models(models_dir: Path, selection: Sequence[Tick],
                 adapters: Sequence[str] = DEMO_ADAPTERS,
                 kind: PolicyKind = FEATURE_MLP) -> Dict[str, float]:
    """
    Return each written adapter's selection loss on ``selection`` ticks, loaded as PEFT does.

    The number ``--candidates`` chooses by (:func:`fit_from_ticks`), for models already on disk:
    a trained set scored offline, in seconds, where a closed-loop validation takes minutes.
    """
    base = load_base_model(BaseModelSpec(factory=kind.factory,
                                         weights=str(Path(models_dir) / BASE_WEIGHTS)))
    data = _adapter_data(selection, torch.cat([t.observation for t in selection]), adapters,
                         kind)
    scores = {}
    for name in adapters:
        model = PeftModel.from_pretrained(copy.deepcopy(base),
                                          str(Path(models_dir) / ADAPTERS_SUBDIR / name))
        scores[name] = selection_loss(model.eval(), *data[name], decode=kind.decode_batch)
    return scores


def train_demo(loop: DemoLoop, out_dir: Path, rounds: int = 3, episodes: int = 12,
               steps: int = 1500, noise: float = 0.1, seed: int = 0,
               evaluation_seeds: Sequence[int] = range(1000, 1010),
               adapters: Sequence[str] = DEMO_ADAPTERS, kind: PolicyKind = FEATURE_MLP,
               first_seed: int = 0, time_limit_s: float = EPISODE_TIME_LIMIT_S,
               rollout_time_limit_s: Optional[float] = None, situations: int = 0,
               first_situation_seed: int = 0, augment: Sequence[str] = (),
               candidates: int = 1, selection_seeds: Sequence[int] = (),
               initial: Optional[Path] = None, base: Optional[Path] = None,
               fitted: Optional[Sequence[str]] = None,
               off_situation: float = 0.0) -> TrainingReport:
    """
    Run DAgger for ``rounds`` and write the final models to ``out_dir``.

    Round ``r`` drives seeds ``first_seed + r * episodes`` onwards, and as many ``situations``
    (situation segments: a few metres of route around one spill or the zone, where the
    learner must get things right and a whole route has few) from ``first_situation_seed + r *
    situations``; the final models carry the evaluation's success rates in their manifests.
    Evaluation episodes end at ``time_limit_s`` of sim time (the benchmark's, so the rates
    mean the same), the recorded rounds' at ``rollout_time_limit_s`` (default: the same): a
    learner stuck at a shelf for minutes would otherwise fill the data with thousands of
    near-identical ticks. ``augment``: the ``kind.augmentations`` every fit applies to its
    minibatches. ``candidates`` > 1: every fit chooses among that many model sets by how well
    they imitate the experts on the situation segments of ``selection_seeds``, which the
    experts drive without noise before round 0 (:func:`fit_from_ticks`). ``initial``: a
    models directory that drives round 1 in place of a fit on round 0 (DAgger continued from
    models already trained, e.g. the shipped ones on round 0's data); needs ``rounds`` >= 1.
    ``base``: a models directory whose base every fit keeps, frozen, fitting only ``fitted``
    (default: all ``adapters``) and copying its other adapters: one adapter retrained for a
    base already on the robots. ``off_situation``: see :func:`fit_from_ticks`.
    """
    rollout_limit = time_limit_s if rollout_time_limit_s is None else rollout_time_limit_s
    out_dir = Path(out_dir)
    base = None if base is None else Path(base)
    ticks: List[Tick] = []
    history = []

    def drive(driver: Driver, round_index: int, desc: str) -> int:
        """Record round ``round_index``'s route episodes and segments; return the successes."""
        start = first_seed + round_index * episodes
        results = run_episodes(loop, driver, range(start, start + episodes), ticks, desc,
                               rollout_limit)
        start = first_situation_seed + round_index * situations
        results += run_episodes(loop, driver, range(start, start + situations), ticks,
                                f'{desc}, situations', rollout_limit, situation=True)
        return sum(r.success for r in results)

    fitted = adapters if fitted is None else fitted
    check_kept_base(base, adapters, fitted, kind)  # before minutes of recording, not after
    fit = partial(fit_from_ticks, ticks=ticks, steps=steps, adapters=fitted, kind=kind,
                  augment=augment, candidates=candidates, base=base,
                  off_situation=off_situation)
    if initial is not None and rounds < 1:
        raise ValueError('initial models drive round 1: they need at least one DAgger round')
    if candidates > 1 and not selection_seeds:
        raise ValueError(f'choosing among {candidates} candidates needs selection seeds')
    selection: List[Tick] = []
    # Initial models are loaded first: a directory the engine cannot drive fails at once, not
    # after minutes of recording.
    driver = None if initial is None else LearnedDriver(Path(initial), loop.rules, kind=kind)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        try:
            if candidates > 1:
                run_episodes(loop, expert_driver(), selection_seeds, selection,
                             'selection (experts)', rollout_limit, situation=True)
            history.append((0, drive(expert_driver(noise, seed), 0, 'round 0 (experts)')))
            for round_index in range(1, rounds + 1):
                if driver is None:
                    fit(work, seed=seed + round_index, selection=selection)
                    driver = LearnedDriver(work, loop.rules, kind=kind)
                history.append((round_index,
                                drive(driver, round_index, f'round {round_index} (learned)')))
                driver.close()
                driver = None
        finally:
            if driver is not None:
                driver.close()
        fit(work, seed=seed + rounds + 1, selection=selection)
        evaluations = []
        for fixed in ('', 'navigation'):
            driver = LearnedDriver(work, loop.rules, fixed, kind=kind)
            evaluations.append(run_episodes(loop, driver, evaluation_seeds, None,
                                            f'evaluation {fixed or "switched"}', time_limit_s,
                                            label=False))
            driver.close()
        rate = {'switched_success_rate': _rate(evaluations[0]),
                'navigation_only_success_rate': _rate(evaluations[1]),
                'validation_episodes': len(evaluations[0])}
        _rewrite_manifests(work, {name: rate for name in adapters})
        shutil.rmtree(out_dir / ADAPTERS_SUBDIR, ignore_errors=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / BASE_WEIGHTS, out_dir / BASE_WEIGHTS)
        shutil.copytree(work / ADAPTERS_SUBDIR, out_dir / ADAPTERS_SUBDIR,
                        copy_function=shutil.copyfile)
    return TrainingReport(history, *evaluations)


def _rate(results: Sequence[EpisodeResult]) -> float:
    return sum(r.success for r in results) / len(results) if results else 0.0


def _rewrite_manifests(models_dir: Path, metrics: Mapping[str, Mapping[str, float]]) -> None:
    """Add the validation metrics to each adapter's manifest (the weights stay as they are)."""
    for name, values in metrics.items():
        directory = models_dir / ADAPTERS_SUBDIR / name
        manifest = read_manifest(directory / MANIFEST)
        write_manifest(directory, name=manifest.name, version=manifest.version,
                       base_fingerprint=manifest.base_fingerprint, tags=manifest.tags,
                       metrics={**manifest.metrics, **values})
