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
How often the hazard adapter picks its teacher's side of a spill: by when, and where, it answers.

Why: the learned policy fails episodes at the few ticks where it chooses which side of a spill
to pass, not over the whole of its teachers' episodes (docs/behaviour.md). An adapter's loss
on the teachers' ticks hides those ticks twice over: they are few, and once the teacher has
moved the robot to a side, an adapter that answers "where the robot already is" agrees with it.
This probe rides along with any driver (the teachers, or the learned policy on the states it
drives itself into) and, at every tick where the rules want ``hazard``, runs the hazard adapter
on that tick's observation through the engine. Each sample keeps the time since the switch to
``hazard``, the robot's distance to the route's nearest turn, the teacher's planned offset and
the adapter's, so the side agreement can be read at the first answers, apart from the ticks
after it.
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from adapter_switcher.context.rules import ContextRules
from adapter_switcher.demo.closed_loop import Driver
from adapter_switcher.demo.closed_loop import Tick
from adapter_switcher.demo.policy_kinds import PolicyKind
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.training import LearnedDriver
from adapter_switcher.demo.visuomotor import decode_offset_action
from adapter_switcher.demo.visuomotor import OFFSET_LIMIT
import torch

HAZARD = 'hazard'
SINCE_BINS_S = (0.0, 0.3, 1.0, 2.0, math.inf)   # the first answers, the first second, later
CORNER_M = 2.5         # "near a turn": within this of one of the route's turns
SIDE_OFFSET_M = 0.4    # a tick decides a side where the teacher's offset is at least this


@dataclass(frozen=True)
class SideSample:
    """One tick where the rules wanted ``hazard``."""

    seed: int
    since_switch_s: float  # since the rules last switched to hazard
    corner_m: float        # from the robot to the nearest turn of the route
    teacher: float         # the hazard teacher's planned offset, clipped as the policy's is
    adapter: float         # the hazard adapter's decoded offset on the tick's observation


class SideProbe:
    """
    Drive with ``driver``; beside it, record what the hazard adapter would answer.

    The probe never changes a command: it runs the adapter in an engine of its own, pinned to
    ``hazard``. Call :meth:`start` before each episode; the ticks need the experts' offsets
    and the observation (``DemoLoop.run`` with ``label=True, encode=True``).
    """

    def __init__(self, driver: Driver, models_dir: Path, rules: ContextRules,
                 kind: PolicyKind = VISUOMOTOR):
        self.driver = driver
        self.samples: List[SideSample] = []
        self._adapter = LearnedDriver(models_dir, rules, fixed=HAZARD, kind=kind)
        self._seed = 0
        self._switched_at: Optional[float] = None

    def start(self, seed: int) -> None:
        """Begin an episode: its samples carry ``seed``."""
        self._seed, self._switched_at = seed, None

    def __call__(self, tick: Tick):
        command = self.driver(tick)
        if tick.decision.desired != HAZARD:
            self._switched_at = None
            return command
        if self._switched_at is None:
            self._switched_at = tick.time
        with torch.inference_mode():
            output = self._adapter.engine.step(tick.observation).output
        teacher = max(-OFFSET_LIMIT, min(OFFSET_LIMIT, tick.offsets[HAZARD][1]))
        self.samples.append(SideSample(self._seed, tick.time - self._switched_at,
                                       nearest_turn_m(tick), teacher,
                                       decode_offset_action(output)[1]))
        return command

    def close(self) -> None:
        """Release the probe's engine."""
        self._adapter.close()


def nearest_turn_m(tick: Tick) -> float:
    """Return the distance from the robot to the nearest turn (inner waypoint) of its route."""
    turns = tick.route.waypoints[:-1]
    if len(turns) == 0:
        return math.inf
    return float(min(math.hypot(x - tick.pose[0], y - tick.pose[1]) for x, y in turns[:, :2]))


def side_agreement(samples: Sequence[SideSample], corner_m: float = CORNER_M,
                   since_bins_s: Sequence[float] = SINCE_BINS_S,
                   side_offset_m: float = SIDE_OFFSET_M) -> List[Dict[str, object]]:
    """
    Return one row per (time since the switch, near or far from a turn).

    Only ticks where the teacher's offset is at least ``side_offset_m`` count (a side is
    chosen there). ``agree`` is the share where the adapter's offset has the teacher's sign;
    ``agree_firmly`` also needs the adapter's offset to be at least ``side_offset_m``. The last
    bin's open end is None (JSON has no infinity).
    """
    rows = []
    for low, high in zip(since_bins_s, since_bins_s[1:]):
        for near in (True, False):
            chosen = [s for s in samples
                      if low <= s.since_switch_s < high and (s.corner_m < corner_m) == near
                      and abs(s.teacher) >= side_offset_m]
            agree = [s for s in chosen if s.adapter * s.teacher > 0.0]
            firm = [s for s in agree if abs(s.adapter) >= side_offset_m]
            rows.append({'since_switch_s': [low, high if math.isfinite(high) else None],
                         'near_turn': near,
                         'ticks': len(chosen), 'episodes': len({s.seed for s in chosen}),
                         'agree': len(agree) / len(chosen) if chosen else None,
                         'agree_firmly': len(firm) / len(chosen) if chosen else None})
    return rows
