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
Demo assets: the base policy's weights and a few LoRA adapters with distinct driving styles.

Each adapter is fitted by behaviour cloning: :func:`fit_lora` trains only the LoRA weights of a
copy of the frozen base to reproduce target velocities for given observations. Here the targets
come from small scripted behaviours on random observations (:data:`DEMO_BEHAVIOURS`), which is
enough to make every adapter drive visibly differently; the simulator's scripted experts can feed
recorded ``(observations, targets)`` to :func:`fit_lora` through the same hook.

The adapters are written as PEFT does (``save_pretrained``: adapter_config.json +
adapter_model.safetensors) plus the engine's ``manifest.json`` with the base fingerprint.
"""

import copy
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from adapter_switcher.core import model_fingerprint
from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.demo.policy_model import build_policy
from adapter_switcher.demo.policy_model import decode_batch
from adapter_switcher.demo.policy_model import feature_columns
from adapter_switcher.demo.policy_model import OBS_DIM
from adapter_switcher.demo.policy_model import OBS_FEATURES
from adapter_switcher.demo.policy_model import TARGET_MODULES

from peft import get_peft_model
from peft import LoraConfig
from safetensors.torch import save_file
import torch
from tqdm import tqdm

BASE_WEIGHTS = 'base_policy.safetensors'
ADAPTERS_SUBDIR = 'adapters'

Behaviour = Callable[[torch.Tensor], torch.Tensor]
# A training-time jitter of a minibatch of observations, drawing from the fit's generator only
# (deterministic for the seed), e.g. visuomotor.augment_images.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
# Raw model outputs (N, 2) -> what the targets are (differentiable, to train).
Decode = Callable[[torch.Tensor], torch.Tensor]
_FRONT, _LEFT, _RIGHT, _SPILL_X, _SPILL_VISIBLE = feature_columns(
    ('front_min', 'left_min', 'right_min', 'spill_x', 'spill_visible'))


def _clearance_speed(obs: torch.Tensor, top: float) -> torch.Tensor:
    """Return a speed up to ``top`` that falls to 0 as the obstacle ahead gets within 0.5 m."""
    front_m = obs[:, _FRONT] * 10.0
    return top * torch.clamp((front_m - 0.5) / 2.0, 0.0, 1.0)


def _centring(obs: torch.Tensor, gain: float) -> torch.Tensor:
    """Turn towards the more open side, which keeps the robot centred in an aisle."""
    return gain * torch.clamp((obs[:, _LEFT] - obs[:, _RIGHT]) * 10.0 / 2.0, -1.0, 1.0)


def cruise(obs: torch.Tensor) -> torch.Tensor:
    """Drive at moderate speed with gentle centring: the base behaviour."""
    return torch.stack([_clearance_speed(obs, 0.5), _centring(obs, 0.3)], dim=1)


def navigation(obs: torch.Tensor) -> torch.Tensor:
    """Drive fast and centred in open aisles."""
    return torch.stack([_clearance_speed(obs, 0.9), _centring(obs, 0.6)], dim=1)


def hazard(obs: torch.Tensor) -> torch.Tensor:
    """Creep and steer away from the spill in view."""
    away = -1.2 * obs[:, _SPILL_X] * obs[:, _SPILL_VISIBLE]
    return torch.stack([_clearance_speed(obs, 0.15), away], dim=1)


def narrow_aisle(obs: torch.Tensor) -> torch.Tensor:
    """Drive slowly and strongly centred in tight aisles."""
    return torch.stack([_clearance_speed(obs, 0.3), _centring(obs, 1.0)], dim=1)


DEMO_BEHAVIOURS: Dict[str, Behaviour] = {
    'navigation': navigation,
    'hazard': hazard,
    'narrow_aisle': narrow_aisle,
}


def random_observations(count: int, generator: torch.Generator) -> torch.Tensor:
    """Sample observations over the ranges the features take in a warehouse."""
    obs = torch.rand(count, OBS_DIM, generator=generator)
    columns = dict(zip((name for name, _ in OBS_FEATURES), range(len(OBS_FEATURES))))
    obs[:, columns['spill_fraction']] *= 0.5
    obs[:, columns['spill_x']] = obs[:, columns['spill_x']] * 2.0 - 1.0
    obs[:, columns['spill_visible']] = (obs[:, columns['spill_visible']] > 0.5).float()
    obs[:, columns['speed']] *= 0.5
    obs[:, columns['yaw_rate']] -= 0.5
    return obs


def fit_lora(base: torch.nn.Module, obs: torch.Tensor, targets: torch.Tensor,
             rank: int = 8, steps: int = 300, lr: float = 5e-3, seed: int = 0,
             target_modules: Sequence[str] = TARGET_MODULES, batch: int = 256,
             augment: Optional[Augment] = None, decode: Decode = decode_batch,
             anneal: bool = False):
    """
    Return a PEFT model whose LoRA weights clone ``targets`` (N, 2 velocities) from ``obs``.

    ``base`` is copied, never changed; only the LoRA weights train, as they would on the robot's
    frozen base. ``target_modules`` may name Linear and Conv2d layers (PEFT wraps both).
    ``augment``, if given, jitters every minibatch before it goes into the model; ``decode``
    maps the raw outputs to what ``targets`` hold (velocities by default). ``anneal`` decays
    the learning rate to 0 over the steps (cosine) instead of keeping it constant.
    """
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(target_modules),
                        lora_dropout=0.0)
    model = get_peft_model(copy.deepcopy(base), config)
    _fit(model, obs, targets, steps, lr, seed, batch, augment, decode, anneal)
    return model


def _fit(model: torch.nn.Module, observations: torch.Tensor, targets: torch.Tensor,
         steps: int, lr: float, seed: int, batch: int = 256,
         augment: Optional[Augment] = None, decode: Decode = decode_batch,
         anneal: bool = False) -> None:
    """
    Fit ``model`` with Adam on one thread; with ``anneal`` the learning rate decays to 0.

    One thread: the model is tiny, and on a busy machine a second torch thread waiting for a
    core makes every step many times slower. Why anneal (cosine): at a constant rate the fit
    ends wherever its last minibatches put it. With the decay (and twice the data and steps),
    two training seeds of the visuomotor recipe validated 47 and 48 of 50 where they had made
    41 and 40 (docs/behaviour.md).
    """
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=lr)
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1))
                if anneal else None)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in tqdm(range(steps), desc='fit', unit='step', leave=False, disable=None):
            rows = torch.randint(0, observations.shape[0], (batch,), generator=generator)
            inputs = observations[rows].to(torch.float32)  # recorded ones may be half precision
            if augment is not None:
                inputs = augment(inputs, generator)
            loss = torch.nn.functional.mse_loss(decode(model(inputs)), targets[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if schedule is not None:
                schedule.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()


# Candidate k of a training fits its base and adapters from seed + k * CANDIDATE_SEED_STRIDE
# on: candidate 0 is the one fit a single-candidate training makes, with the same bytes.
CANDIDATE_SEED_STRIDE = 1000
Data = Tuple[torch.Tensor, torch.Tensor]


def selection_loss(model: torch.nn.Module, observations: torch.Tensor, targets: torch.Tensor,
                   decode: Decode = decode_batch, batch: int = 4096) -> float:
    """
    Return the fit's own loss (mean squared error of the decoded outputs) on held-back data.

    No jitter, in batches (recorded observations may be half precision): the number a fit
    would have minimised on data it never saw.
    """
    total = 0.0
    with torch.no_grad():
        for start in range(0, observations.shape[0], batch):
            outputs = decode(model(observations[start:start + batch].to(torch.float32)))
            total += float(torch.nn.functional.mse_loss(
                outputs, targets[start:start + batch], reduction='sum'))
    return total / max(targets.numel(), 1)


def save_demo_models(out_dir, base_data: Union[Data, torch.nn.Module],
                     adapter_data: Mapping[str, Data],
                     rank: int = 8, steps: int = 300, seed: int = 0,
                     build: Callable[[], torch.nn.Module] = build_policy,
                     target_modules: Sequence[str] = TARGET_MODULES,
                     metrics: Optional[Mapping[str, Mapping[str, float]]] = None,
                     batch: int = 256, augment: Optional[Augment] = None,
                     decode: Decode = decode_batch, anneal: bool = False,
                     candidates: int = 1, selection: Optional[Mapping[str, Data]] = None
                     ) -> Dict[str, Path]:
    """
    Fit the base on ``base_data`` and one adapter per ``adapter_data`` entry; write them.

    Each entry is ``(observations (N, obs dim), targets (N, 2))``; ``base_data`` may instead be
    a trained base, kept frozen as on the robot: only the adapters are fitted on it. Layout:
    ``out_dir/base_policy.safetensors`` and ``out_dir/adapters/<name>/`` (PEFT's format plus the
    engine's manifest with the base fingerprint and ``metrics[name]``, if given). ``build``
    makes the untrained base; ``target_modules`` are its LoRA layers; ``batch`` is the
    minibatch size; ``augment`` (e.g. :func:`~adapter_switcher.demo.visuomotor.augment_images`)
    jitters each minibatch of the base's and every adapter's fit, from the fit's own seeded
    generator, so the result is still deterministic for ``seed``; ``decode`` maps raw outputs
    to the targets' kind (velocities by default); ``anneal`` decays every fit's learning rate
    to 0 (:func:`fit_lora`). Returns the paths by name ('base' included).

    ``candidates`` > 1 fits that many whole sets (base and adapters, candidate k from seed + k x
    CANDIDATE_SEED_STRIDE) and writes the set whose adapters' :func:`selection_loss` on
    ``selection[name]`` (held-back data of every adapter) sums lowest; each manifest's metrics
    get ``selection_loss`` and ``selection_loss_<k>`` for every candidate. Why whole sets: the
    visuomotor base decides whether the hazard adapter can learn a spill's side at all. Fits
    of the same recipe and data either learn it or collapse to a default side, and an adapter
    refitted on a collapsed base from other seeds collapsed again, while the same data on
    another base fitted well (docs/behaviour.md).
    """
    if candidates < 1:
        raise ValueError(f'candidates must be at least 1, got {candidates}')
    missing = sorted(set(adapter_data) - set(selection or {}))
    if candidates > 1 and missing:
        raise ValueError(f'choosing among {candidates} candidates needs held-back selection '
                         f'data for every adapter; none for {", ".join(missing)}')
    fits = {'rank': rank, 'steps': steps, 'target_modules': target_modules, 'batch': batch,
            'augment': augment, 'decode': decode, 'anneal': anneal}
    sets, losses = [], []
    for k in range(candidates):
        sets.append(_fit_model_set(build, base_data, adapter_data,
                                   seed + k * CANDIDATE_SEED_STRIDE, fits))
        if selection is not None:
            losses.append({name: selection_loss(model, *selection[name], decode=decode)
                           for name, model in sets[k][1].items() if name in selection})
    best = min(range(len(losses)), key=lambda k: sum(losses[k].values())) if losses else 0
    notes = {name: {'selection_loss': losses[best][name],
                    **{f'selection_loss_{k}': loss[name] for k, loss in enumerate(losses)}}
             for name in (losses[best] if losses else {})}
    return _write_model_set(Path(out_dir), *sets[best],
                            {name: {**notes.get(name, {}), **(metrics or {}).get(name, {})}
                             for name in adapter_data})


def _fit_model_set(build: Callable[[], torch.nn.Module],
                   base_data: Union[Data, torch.nn.Module], adapter_data: Mapping[str, Data],
                   seed: int, fits: Mapping[str, Any]
                   ) -> Tuple[torch.nn.Module, Dict[str, torch.nn.Module]]:
    """Fit one candidate: the base from ``seed`` (unless given), the adapters from seed + 1 on."""
    if isinstance(base_data, torch.nn.Module):
        base = base_data
    else:
        base = build()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _fit(base, base_data[0], base_data[1], fits['steps'], 3e-3, seed, fits['batch'],
                 fits['augment'], fits['decode'], fits['anneal'])
    for param in base.parameters():
        param.requires_grad_(False)
    adapters = {}
    for index, (name, (observations, targets)) in enumerate(sorted(adapter_data.items())):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1 + index)
            adapters[name] = fit_lora(base, observations, targets, seed=seed + 1 + index,
                                      **fits)
    return base, adapters


def _write_model_set(out_dir: Path, base: torch.nn.Module,
                     adapters: Mapping[str, torch.nn.Module],
                     metrics: Mapping[str, Mapping[str, float]]) -> Dict[str, Path]:
    """Write the base's weights and every adapter (PEFT's files and the manifest)."""
    adapters_dir = out_dir / ADAPTERS_SUBDIR
    adapters_dir.mkdir(parents=True, exist_ok=True)
    paths = {'base': out_dir / BASE_WEIGHTS}
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(paths['base']))
    fingerprint = model_fingerprint(base)
    for name, model in adapters.items():
        target = adapters_dir / name
        # PEFT holds target_modules as a set and writes list(set), in an order that follows
        # Python's per-process string hashing: the same training wrote other bytes into
        # adapter_config.json (and another file hash into the manifest) on every run. Sorted,
        # a seed gives the same files.
        config = model.peft_config['default']
        config.target_modules = sorted(config.target_modules)
        model.save_pretrained(str(target), safe_serialization=True)
        write_manifest(target, name=name, version='1', base_fingerprint=fingerprint,
                       tags=['demo', name], metrics=metrics.get(name) or None)
        paths[name] = target
    return paths


def make_demo_adapters(out_dir, behaviours: Optional[Mapping[str, Behaviour]] = None,
                       rank: int = 8, steps: int = 300, seed: int = 0) -> Dict[str, Path]:
    """
    Write the base weights and one adapter per scripted behaviour under ``out_dir``.

    The behaviours act on random observations; the base is fitted to :func:`cruise`, so the
    base model alone drives sensibly. See :func:`save_demo_models` for the layout.
    """
    behaviours = DEMO_BEHAVIOURS if behaviours is None else behaviours
    generator = torch.Generator().manual_seed(seed)
    observations = random_observations(4096, generator)
    adapter_data = {name: (observations, behaviour(observations))
                    for name, behaviour in behaviours.items()}
    return save_demo_models(out_dir, (observations, cruise(observations)), adapter_data,
                            rank=rank, steps=steps, seed=seed)
