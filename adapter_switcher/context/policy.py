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
The context policy: one decision per feature snapshot, from the rules, with hysteresis and dwell.

* Escalation: a rule of higher priority than the current adapter whose enter conditions hold
  takes over on that very snapshot, whatever the dwell (a hazard must never wait).
* De-escalation: the current adapter leaves when one of its exit conditions holds, but only once
  ``min_dwell_s`` has passed since it was entered AND since the last snapshot on which its enter
  conditions held. The second clause is what stops flapping: a feature flickering across both
  thresholds keeps re-arming the dwell, so the adapter stays instead of leaving and re-entering.
  An adapter's ``yields_to`` rules cut that dwell short: once an exit condition holds, one of
  them whose enter conditions hold takes over (the hazard adapter, still held after a spill,
  hands a slow zone to the slow-zone adapter).
  It leaves for its fallback (the default if none), or for a lower rule that enters right now
  or is still owed its dwell: one whose enter conditions held within its own ``min_dwell_s``
  while a higher adapter ran (a slow zone driven onto during a spill's detour, out of view
  when the hazard adapter leaves, must still be driven slowly). Such a handover counts its
  dwell from when the rule's enter conditions last held, not from the switch.
* Between the thresholds (the hysteresis band), or with the features missing, nothing changes.

Time is the snapshots' stamps, never the wall clock, so a replay gives the same decisions. If the
stamps go backwards (a simulation reset), the dwell restarts from the new time. A dwell counts as
served within DWELL_TOLERANCE_S of ``min_dwell_s``: stamps are float seconds of a nanosecond
clock (26.5 s - 14.500000000000002 s is 11.999999999999998 s); without the tolerance, the tick
an adapter leaves on (and so a whole episode) depended on how long the clock had run before it.
"""

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.predictor import NextAdapterPredictor
from adapter_switcher.context.rules import ContextRules
from adapter_switcher.context.rules import describe_all

DWELL_TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class Decision:
    """
    The policy's answer to one snapshot.

    desired: the adapter to run now. predicted, confidence: the adapter expected next and how
    sure (the desired one when no change is expected). reason: the rule that fired.
    changed: desired differs from the previous decision's. prediction_reason: why predicted.
    """

    stamp: float
    desired: str
    predicted: str
    confidence: float
    reason: str
    changed: bool
    prediction_reason: str = ''


class ContextPolicy:
    """
    Decide the desired adapter from feature snapshots, and predict the next one.

    Without a ``predictor``, one with an in-memory TransitionModel is made. Every switch is fed
    to the predictor's transition model, which learns the robot's routine from it.
    """

    def __init__(self, rules: ContextRules, predictor: Optional[NextAdapterPredictor] = None):
        if predictor is not None and predictor.rules is not rules:
            raise ValueError('the predictor was built for other rules than the policy')
        self._rules = rules
        self._predictor = predictor if predictor is not None else NextAdapterPredictor(rules)
        self._current = rules.default
        self._entered_at: Optional[float] = None
        self._seen_at: Dict[str, float] = {}  # each rule: the last stamp its enter held
        self._last_stamp: Optional[float] = None
        self._last_prediction: Optional[Tuple[str, float]] = None  # (adapter, named since)
        self._counts = dict.fromkeys(
            ('snapshots', 'switches', 'escalations', 'deescalations', 'dwell_holds',
             'clock_jumps', 'predictions', 'switches_predicted', 'switches_unpredicted'), 0)
        self._leads = {'last_prediction_lead_s': None, 'min_prediction_lead_s': None}

    @property
    def rules(self) -> ContextRules:
        """Return the rules the policy follows."""
        return self._rules

    @property
    def predictor(self) -> NextAdapterPredictor:
        """Return the predictor that names the next adapter."""
        return self._predictor

    @property
    def current(self) -> str:
        """Return the adapter the last decision wanted (the default before any)."""
        return self._current

    def reset(self, stamp: Optional[float] = None) -> None:
        """
        Go back to the default adapter, as at start-up.

        The learned transitions and the stats stay; ``stamp``, if given, is taken as the time
        of the reset, so stamps before it count as time going backwards.
        """
        self._current = self._rules.default
        self._entered_at = None
        self._seen_at = {}
        self._last_stamp = stamp
        self._last_prediction = None
        self._predictor.reset()

    def stats(self) -> Dict[str, Any]:
        """
        Return counters for diagnostics: decisions, switches and how well they were predicted.

        predictions: decisions that named an adapter other than the desired one.
        switches_predicted / switches_unpredicted: switches whose new adapter the previous
        decision had / had not predicted; *_prediction_lead_s: how long before such a switch
        the prediction had named it without interruption (None before the first).
        """
        stats: Dict[str, Any] = dict(self._counts)
        stats.update(self._leads)
        stats.update(self._predictor.stats())
        return stats

    def update(self, snapshot: FeatureSnapshot) -> Decision:
        """Return the decision for ``snapshot`` and move the policy's state on."""
        if not isinstance(snapshot, FeatureSnapshot):
            raise TypeError(f'expected a FeatureSnapshot, got {type(snapshot).__name__}')
        stamp, values = snapshot.stamp, snapshot.values
        self._follow_clock(stamp)
        self._counts['snapshots'] += 1
        previous = self._current
        desired, reason = self._decide(stamp, values)
        if desired != previous:
            self._switch(previous, desired, stamp, values)
        predicted, confidence, why = self._predictor.predict(desired, snapshot,
                                                             self._owed(stamp))
        self._note_prediction(desired, predicted, stamp)
        return Decision(stamp, desired, predicted, confidence, reason, desired != previous, why)

    def _follow_clock(self, stamp: float) -> None:
        if self._last_stamp is not None and stamp < self._last_stamp:
            self._counts['clock_jumps'] += 1
            if self._entered_at is not None:
                self._entered_at = stamp
            seen = self._seen_at.get(self._current)
            self._seen_at = {} if seen is None else {self._current: stamp}
            self._last_prediction = None
        self._last_stamp = stamp

    def _decide(self, stamp: float, values: Mapping[str, Any]) -> Tuple[str, str]:
        rules = self._rules
        current = self._current
        rule = rules.adapters[current]
        for other in rules.ranked:
            if other.name != rules.default and other.enter_holds(values):
                self._seen_at[other.name] = stamp
        challenger = rules.strongest_entering(values, above=rule.priority)
        if challenger is not None:
            return challenger.name, (f'{challenger.name}: enter '
                                     f'{describe_all(challenger.enter_conditions, values)}')
        if current == rules.default:
            return current, f'{current}: default, no rule enters'
        exits = rule.exits_holding(values)
        if not exits:
            return current, (f'{current}: stays, no exit holds: '
                             f'{" or ".join(c.describe(values) for c in rule.exit_conditions)}')
        held_s = stamp - max(self._entered_at, self._seen_at.get(current, self._entered_at))
        if held_s < rule.min_dwell_s - DWELL_TOLERANCE_S:
            taker = next((rules.adapters[name] for name in rule.yields_to
                          if rules.adapters[name].enter_holds(values)), None)
            if taker is not None:
                return taker.name, (f'{current}: exit {describe_all(exits, values)}, its dwell '
                                    f'yields to {taker.name}: enter '
                                    f'{describe_all(taker.enter_conditions, values)}')
            self._counts['dwell_holds'] += 1
            return current, (f'{current}: stays for min_dwell_s {rule.min_dwell_s:g} s '
                             f'(held {held_s:.3g} s) although exit {describe_all(exits, values)}')
        target = rules.leave_target(current, values, self._owed(stamp))
        return target, f'{current}: exit {describe_all(exits, values)} -> {target}'

    def _switch(self, previous: str, desired: str, stamp: float,
                values: Mapping[str, Any]) -> None:
        adapters = self._rules.adapters
        self._current = desired
        # A handover to a rule still owed its dwell serves what is left of it.
        owed = desired in self._owed(stamp) and not adapters[desired].enter_holds(values)
        self._entered_at = self._seen_at[desired] if owed else stamp
        self._counts['switches'] += 1
        rising = adapters[desired].priority > adapters[previous].priority
        self._counts['escalations' if rising else 'deescalations'] += 1
        if self._last_prediction is not None and self._last_prediction[0] == desired:
            self._counts['switches_predicted'] += 1
            lead_s = stamp - self._last_prediction[1]
            shortest = self._leads['min_prediction_lead_s']
            self._leads['last_prediction_lead_s'] = lead_s
            self._leads['min_prediction_lead_s'] = lead_s if shortest is None else min(
                shortest, lead_s)
        else:
            self._counts['switches_unpredicted'] += 1
        self._predictor.transitions.observe(previous, desired)

    def _owed(self, stamp: float) -> FrozenSet[str]:
        """Return the rules whose enter conditions held within their ``min_dwell_s``."""
        adapters = self._rules.adapters
        return frozenset(name for name, seen in self._seen_at.items()
                         if stamp - seen < adapters[name].min_dwell_s - DWELL_TOLERANCE_S)

    def _note_prediction(self, desired: str, predicted: str, stamp: float) -> None:
        if predicted != desired:
            self._counts['predictions'] += 1
        if self._last_prediction is None or self._last_prediction[0] != predicted:
            self._last_prediction = (predicted, stamp)
