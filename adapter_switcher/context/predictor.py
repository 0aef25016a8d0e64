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
Which adapter comes next: explicit hints from the rules, and transitions learned online.

The prefetcher loads the predicted adapter before it is needed, so that the swap finds it
resident. Two sources, in order of trust:

* Hints. A feature on its way to an adapter's enter threshold (the rule's ``hint``: from the
  ``approaching`` value to the threshold), or the current adapter's feature on its way through
  the hysteresis band from the enter threshold to the exit threshold (announcing the switch
  back). The confidence grows with how far along the way the feature is and with how soon, at
  its rate of change over the last ``rate_window_s``, it will arrive; moving back lowers it.
* The :class:`TransitionModel`: first-order Markov counts of the switches seen, decayed so that
  the robot's recent routine outweighs old habits, kept in a small JSON file across restarts.

A hint beats the learned transitions; when both name the same adapter their confidences combine.
"""

from collections import deque
import json
import logging
import math
import os
from pathlib import Path
import threading
from typing import Collection, Deque, Dict, Mapping, Optional, Tuple, Union

from adapter_switcher.atomic_file import write_atomically
from adapter_switcher.context.checks import finite_number
from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.rules import ContextRules
from adapter_switcher.context.rules import Hint

Prediction = Tuple[str, float, str]

HORIZON_S = 1.0
RATE_WINDOW_S = 0.5
FILE_FORMAT = 'adapter_switcher.transitions'
FILE_VERSION = 1
# Decayed counts below this are dropped, which keeps the file small.
_NEGLIGIBLE_COUNT = 1e-6
# Bounds a feature's history however fast the snapshots come.
_HISTORY_LIMIT = 1024
_LOG = logging.getLogger(__name__)


class TransitionModel:
    """
    First-order Markov counts of adapter switches, with exponential decay, learned online.

    Each observed switch ``previous -> new`` first multiplies every count out of ``previous`` by
    ``decay`` (0..1), then adds 1 to ``previous -> new``: the last switches out of an adapter
    weigh most, and the total weight of a row tends to 1 / (1 - decay). With a ``path``, the
    counts are read from it at construction (a missing file starts empty; an unreadable or
    corrupt one is logged, recorded in :attr:`problem` and ignored) and, with ``autosave``,
    written back after every observed switch (atomically: :func:`write_atomically`).
    """

    def __init__(self, decay: float = 0.9, path: Optional[Union[str, os.PathLike]] = None, *,
                 autosave: bool = True):
        decay = finite_number('decay', decay)
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f'decay must be in [0, 1], got {decay:g}')
        self._decay = decay
        self._path = None if path is None else Path(path)
        self._autosave = autosave
        self._counts: Dict[str, Dict[str, float]] = {}
        self._lock = threading.Lock()
        # The last problem with the file (None: none), for a node to put in its diagnostics.
        self.problem: Optional[str] = None
        if self._path is not None:
            self.load()

    @property
    def decay(self) -> float:
        """Return the factor applied to a row's counts at each switch out of it."""
        return self._decay

    @property
    def path(self) -> Optional[Path]:
        """Return the file the counts persist in, or None for memory only."""
        return self._path

    def observe(self, previous: str, new: str) -> None:
        """Learn one switch from ``previous`` to ``new`` (and save it, with autosave)."""
        for role, name in (('previous', previous), ('new', new)):
            if not isinstance(name, str) or not name:
                raise ValueError(f'{role} must be an adapter name, got {name!r}')
        if previous == new:
            raise ValueError(f'a switch needs two different adapters, got {previous!r} twice')
        with self._lock:
            row = self._counts.setdefault(previous, {})
            for name in list(row):
                row[name] *= self._decay
                if row[name] < _NEGLIGIBLE_COUNT:
                    del row[name]
            row[new] = row.get(new, 0.0) + 1.0
        if self._autosave and self._path is not None:
            try:
                self.save()
            except OSError as error:
                self._report(f'cannot save the transitions file {self._path}: {error}')

    def probabilities(self, current: str) -> Dict[str, float]:
        """Return ``{next adapter: probability}`` of the switches seen out of ``current``."""
        with self._lock:
            row = dict(self._counts.get(current, {}))
        total = sum(row.values())
        return {name: count / total for name, count in row.items()} if total > 0 else {}

    def weight(self, current: str) -> float:
        """Return the decayed number of switches out of ``current``: the evidence behind it."""
        with self._lock:
            return sum(self._counts.get(current, {}).values())

    def counts(self) -> Dict[str, Dict[str, float]]:
        """Return a copy of the decayed counts, ``{previous: {new: count}}``."""
        with self._lock:
            return {previous: dict(row) for previous, row in self._counts.items()}

    def save(self) -> None:
        """Write the counts to :attr:`path` atomically; raises OSError if that fails."""
        if self._path is None:
            raise ValueError('this TransitionModel has no file to save to')
        text = json.dumps({'format': FILE_FORMAT, 'version': FILE_VERSION,
                           'decay': self._decay, 'counts': self.counts()},
                          indent=1, sort_keys=True)
        write_atomically(self._path, text + '\n')

    def load(self) -> bool:
        """
        Replace the counts with those in :attr:`path`; return whether the file was used.

        A missing file leaves the counts as they are (a first run); an unreadable or corrupt
        one too, after logging a warning and setting :attr:`problem`: the robot must start
        whatever state a previous run left on disk.
        """
        if self._path is None:
            raise ValueError('this TransitionModel has no file to load from')
        try:
            with open(self._path, encoding='utf-8') as stream:
                counts = _parse_counts(json.load(stream))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as error:
            self._report(f'ignoring the transitions file {self._path}: {error}')
            return False
        with self._lock:
            self._counts = counts
        self.problem = None
        return True

    def _report(self, problem: str) -> None:
        self.problem = problem
        _LOG.warning('%s', problem)


def _parse_counts(data) -> Dict[str, Dict[str, float]]:
    """Return the counts of a parsed transitions file, or raise ValueError saying what is wrong."""
    if not isinstance(data, dict) or data.get('format') != FILE_FORMAT:
        raise ValueError(f'not a {FILE_FORMAT} file')
    if data.get('version') != FILE_VERSION:
        raise ValueError(f'version {data.get("version")!r}, expected {FILE_VERSION}')
    counts = data.get('counts')
    if not isinstance(counts, dict):
        raise ValueError('counts must be a mapping')
    parsed = {}
    for previous, row in counts.items():
        if not isinstance(row, dict):
            raise ValueError(f'counts from {previous!r} must be a mapping')
        for new, count in row.items():
            number = count if isinstance(count, (int, float)) else None
            if isinstance(count, bool) or number is None or not 0 <= number < math.inf:
                raise ValueError(f'count {previous} -> {new} is {count!r}')
        parsed[previous] = {new: float(count) for new, count in row.items()
                            if count > 0 and new != previous}
    return parsed


class NextAdapterPredictor:
    """
    Name the adapter likely to be needed next, with a confidence in [0, 1] and the reason.

    Keeps a short history of the hinted features to estimate their rate of change; the history
    is cleared when time goes backwards (a simulation reset). ``horizon_s`` sets how soon an
    arrival must be expected to count as imminent.
    """

    def __init__(self, rules: ContextRules, transitions: Optional[TransitionModel] = None, *,
                 horizon_s: float = HORIZON_S, rate_window_s: float = RATE_WINDOW_S):
        self._rules = rules
        self._transitions = transitions if transitions is not None else TransitionModel()
        self._horizon_s = finite_number('horizon_s', horizon_s)
        self._window_s = finite_number('rate_window_s', rate_window_s)
        if self._horizon_s <= 0.0 or self._window_s <= 0.0:
            raise ValueError('horizon_s and rate_window_s must be positive')
        tracked = {hint.feature for rule in rules.adapters.values()
                   for hint in rule.hints + rule.leave_hints}
        self._history: Dict[str, Deque[Tuple[float, float]]] = {
            feature: deque(maxlen=_HISTORY_LIMIT) for feature in sorted(tracked)}
        self._last_stamp: Optional[float] = None
        self._sources = {'hint': 0, 'learned': 0, 'hint_and_learned': 0, 'no_change': 0}

    @property
    def rules(self) -> ContextRules:
        """Return the rules whose hints are followed."""
        return self._rules

    @property
    def transitions(self) -> TransitionModel:
        """Return the learned transition model."""
        return self._transitions

    def reset(self) -> None:
        """Forget the feature history (the learned transitions stay)."""
        for history in self._history.values():
            history.clear()
        self._last_stamp = None

    def stats(self) -> Dict[str, int]:
        """Return how many predictions came from each source."""
        return {f'predictions_from_{source}': count for source, count in self._sources.items()}

    def predict(self, current: str, snapshot: FeatureSnapshot,
                owed: Collection[str] = ()) -> Prediction:
        """
        Return ``(adapter, confidence, reason)`` for what follows ``current``.

        ``owed``: the rules still owed their dwell (the policy's), which ``current``
        would leave for (:meth:`ContextRules.leave_target`).
        """
        if current not in self._rules.adapters:
            raise ValueError(f'unknown adapter {current!r}: not in the rules')
        self._remember(snapshot)
        hint = self._best_hint(current, snapshot.values, owed)
        learned = self._learned(current)
        if hint is not None and learned is not None and hint[0] == learned[0]:
            source = 'hint_and_learned'
            prediction = (hint[0], 1.0 - (1.0 - hint[1]) * (1.0 - learned[1]),
                          f'{hint[2]}; {learned[2]}')
        elif hint is not None:
            source, prediction = 'hint', hint
        elif learned is not None:
            source, prediction = 'learned', learned
        else:
            source = 'no_change'
            prediction = (current, 1.0, f'{current}: no hint of a change and no switch from it '
                          'learned')
        self._sources[source] += 1
        name, confidence, reason = prediction
        return name, min(1.0, max(0.0, confidence)), reason

    def _remember(self, snapshot: FeatureSnapshot) -> None:
        stamp = snapshot.stamp
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.reset()
        self._last_stamp = stamp
        for feature, history in self._history.items():
            value = snapshot.values.get(feature)
            if value is not None:
                history.append((stamp, float(value)))
            while history and history[0][0] < stamp - self._window_s:
                history.popleft()

    def _slope(self, feature: str) -> float:
        """Return the least-squares rate of change of ``feature`` over the window, per second."""
        history = self._history[feature]
        if len(history) < 2:
            return 0.0
        mean_t = sum(t for t, _ in history) / len(history)
        mean_v = sum(v for _, v in history) / len(history)
        spread = sum((t - mean_t) ** 2 for t, _ in history)
        if spread <= 0.0:
            return 0.0
        return sum((t - mean_t) * (v - mean_v) for t, v in history) / spread

    def _approach(self, hint: Hint, values: Mapping[str, float]) -> Tuple[float, str]:
        """Return the confidence that ``hint``'s feature reaches its target, and why."""
        value = values.get(hint.feature)
        if value is None:
            return 0.0, f'{hint.feature} missing'
        closeness = hint.closeness(value)
        slope = self._slope(hint.feature)
        toward = slope if hint.target > hint.start else -slope
        score = closeness
        if 0.0 < closeness < 1.0 and toward > 0.0:
            arrival_s = abs(hint.target - value) / toward
            score = closeness + (1.0 - closeness) * math.exp(-arrival_s / self._horizon_s)
        elif 0.0 < closeness < 1.0 and toward < 0.0:
            retreat_s = abs(value - hint.start) / -toward
            score = closeness * (1.0 - math.exp(-retreat_s / self._horizon_s))
        return score, (f'{hint.feature} {value:g} on its way from {hint.start:g} to '
                       f'{hint.target:g} ({slope:+.3g}/s)')

    def _best_hint(self, current: str, values: Mapping[str, float],
                   owed: Collection[str]) -> Optional[Prediction]:
        rule = self._rules.adapters[current]
        best: Optional[Prediction] = None
        # Higher rules take over when they enter; the rules the current one yields to, once it
        # is held only by its dwell (an exit holds), as the policy does.
        yielding = set(rule.yields_to) if rule.exits_holding(values) else set()
        for candidate in self._rules.ranked:
            if candidate.priority <= rule.priority and candidate.name not in yielding:
                continue
            hinted = {hint.feature for hint in candidate.hints}
            unhinted_hold = all(condition.holds(values) is True
                                for condition in candidate.enter_conditions
                                if condition.feature not in hinted)
            if not hinted or not unhinted_hold:
                continue
            scored = [self._approach(hint, values) for hint in candidate.hints]
            score = min(score for score, _ in scored)
            if score > 0.0 and (best is None or score > best[1]):
                best = (candidate.name, score, f'hint: {candidate.name} may enter: '
                        + '; '.join(text for _, text in scored))
        # A rule the current one yields to takes over as soon as it enters; leaving waits for
        # the dwell, so the yield is the nearer switch.
        yields_first = best is not None and best[0] in yielding
        if current != self._rules.default and rule.leave_hints and not yields_first:
            score, text = max(self._approach(hint, values) for hint in rule.leave_hints)
            if score > 0.0 and (best is None or score > best[1]):
                target = self._rules.leave_target(current, values, owed)
                best = (target, score, f'hint: {current} may leave for {target}: {text}')
        return best

    def _learned(self, current: str) -> Optional[Prediction]:
        probabilities = {name: p for name, p in self._transitions.probabilities(current).items()
                         if name in self._rules.adapters and name != current}
        if not probabilities:
            return None
        name = min(probabilities, key=lambda candidate: (-probabilities[candidate], candidate))
        weight = self._transitions.weight(current)
        probability = probabilities[name]
        # Shrink towards 0 while there is little evidence: one switch seen is no habit yet.
        confidence = probability * weight / (weight + 1.0)
        return name, confidence, (f'learned: {current} -> {name} in {probability:.0%} of '
                                  f'{weight:.3g} (decayed) switches')
