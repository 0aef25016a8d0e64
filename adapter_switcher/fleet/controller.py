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
The version lifecycle of every adapter name: promote, demote, pin, canary, shadow, rollback.

What the plain name means is the *served* version, set in the engine's registry: the promoted
version, or during a canary window the candidate. Decisions persist in the store's state.json
(a restart serves the same versions). Automatic rollback: a promoted or candidate version that
produces non-finite outputs, fails its probe, or is active when the user's health signal
reports a fault, is demoted to the previous promoted version at once (the previous version is
still resident, so the switch is O(1)); the reason goes to :attr:`events` and ``on_event``.

The control loop calls :meth:`after_step` after every tick: it only counts, checks finiteness,
hands the tick to a shadow evaluator and moves canary windows; loading and probing happen on
the caller's thread of :meth:`promote` / :meth:`on_installed` (inbox or service), in idle gaps.
"""

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core import StepResult
from adapter_switcher.core.names import split_adapter_ref
from adapter_switcher.fleet.policy import canary_serves_candidate
from adapter_switcher.fleet.policy import Policies
from adapter_switcher.fleet.semver import parse_version
from adapter_switcher.fleet.shadow import flat_output
from adapter_switcher.fleet.shadow import ShadowEvaluator
from adapter_switcher.fleet.store import VersionStore

import torch

MAX_EVENTS = 50


@dataclass
class VersionStats:
    """What one version did while serving: ticks, canary windows, faults."""

    ticks: int = 0
    windows: int = 0
    nonfinite: int = 0
    faults: int = 0


class FleetController:
    """Keeps the served version of every name right; see the module docstring."""

    def __init__(self, engine: AdapterEngine, store: VersionStore, policies: Policies,
                 key: str = '', clock: Callable[[], float] = time.monotonic,
                 on_event: Callable[[str], None] = lambda text: None):
        self.engine = engine
        self.store = store
        self.policies = policies
        self.key = key
        self.clock = clock
        self.on_event = on_event
        self.events: Deque[str] = deque(maxlen=MAX_EVENTS)
        self.stats: Dict[str, VersionStats] = {}
        self.demoted: Dict[str, str] = {}
        self._lock = threading.RLock()
        self._shadows: Dict[str, ShadowEvaluator] = {}
        self._windows: Dict[str, int] = {}
        self._episode = 0
        self._restore()

    # --------------------------------------------------------------------------- start-up
    def _restore(self) -> None:
        """Serve what state.json says; a name without a promoted version gets its newest."""
        installed = self.store.installed()
        for name, versions in installed.items():
            state = self.store.name_state(name)
            if state.promoted not in versions:
                state.promoted = max(versions, key=parse_version)
                state.history = [v for v in state.history if v in versions]
            if state.candidate not in versions:
                state.candidate, state.candidate_mode = None, ''
        self.store.save()
        for name in installed:
            state = self.store.name_state(name)
            if state.candidate_mode == 'shadow':
                self._start_shadow(name, state.candidate)
            self._serve(name)

    # --------------------------------------------------------------------------- commands
    def on_installed(self, ref: str) -> str:
        """Apply the name's policy to a newly installed version; return what was done."""
        name, version = split_adapter_ref(ref)
        policy = self.policies[name]
        with self._lock:
            state = self.store.name_state(name)
            if state.promoted is None:
                state.promoted = version
                self.store.save()
                self._serve(name)
                return self._event(f'{ref} installed and promoted (first version of {name})')
            if policy.mode == 'manual' or state.pinned:
                why = 'pinned' if state.pinned else 'manual policy'
                return self._event(f'{ref} installed; waiting to be promoted ({why})')
        self._load_and_probe(ref)
        with self._lock:
            self._drop_candidate(name)
            state.candidate, state.candidate_mode = version, policy.mode
            self.store.save()
            if policy.mode == 'shadow':
                self._start_shadow(name, version)
            self._windows.pop(name, None)
            return self._event(f'{ref} installed; {policy.mode} started against '
                               f'{name}@{state.promoted}')

    def promote(self, ref: str, force: bool = False) -> str:
        """
        Promote ``name@version`` (or ``name``: its candidate, else its newest version).

        A lower version than the promoted one needs ``force``. The version is loaded and
        probed first (in idle gaps); if that fails nothing changes and AdapterError says why.
        """
        name, version = self._target(ref)
        state = self.store.name_state(name)
        if version == state.promoted:
            return f'{name}@{version} is already promoted'
        try:
            self.store.check_promotion(name, version, force)
        except ValueError as error:
            raise AdapterError(str(error)) from None
        try:
            self._load_and_probe(f'{name}@{version}')
        except AdapterError as error:
            self._fault(f'{name}@{version}', f'probe failed: {error}')
            raise
        with self._lock:
            self._set_promoted(name, version, force)
            return self._event(f'{name}@{version} promoted')

    def demote(self, name: str, reason: str = 'operator request') -> str:
        """Drop the name's candidate, else go back to its previous promoted version."""
        name, _ = split_adapter_ref(name)
        with self._lock:
            state = self.store.name_state(name)
            if state.candidate:
                ref = f'{name}@{state.candidate}'
                self._drop_candidate(name)
                self.store.save()
                self._serve(name)
                self._switch_if_active(name)
                return self._event(f'{ref} demoted (candidate dropped): {reason}')
            try:
                bad = self.store.rollback(name)
            except ValueError as error:
                raise AdapterError(str(error)) from None
            self.store.save()
            self._serve(name)
            self._switch_if_active(name)
            return self._event(f'{name}@{bad} demoted to {name}@{state.promoted}: {reason}')

    def pin(self, ref: str) -> str:
        """Hold ``name`` at ``name@version`` (promoted, policies and candidates suspended)."""
        name, version = self._target(ref)
        if version is None or '@' not in ref:
            raise AdapterError(f"pin needs 'name@version', got {ref!r}")
        self._load_and_probe(ref)
        with self._lock:
            self._drop_candidate(name)
            if version != self.store.name_state(name).promoted:
                self._set_promoted(name, version, force=True)
            self.store.name_state(name).pinned = True
            self.store.save()
            return self._event(f'{ref} pinned')

    def unpin(self, name: str) -> str:
        with self._lock:
            self.store.name_state(name).pinned = False
            self.store.save()
            return self._event(f'{name} unpinned')

    def next_episode(self) -> None:
        """Start a new canary window for names whose policy counts episodes."""
        with self._lock:
            self._episode += 1

    # ------------------------------------------------------------------------ per tick
    def after_step(self, result: StepResult, inputs: Optional[Tuple[tuple, dict]]) -> None:
        """Observe one tick: stats, non-finite outputs, shadow inputs, canary windows."""
        self._move_canary_windows()
        ref = result.adapter
        if not ref or '@' not in ref:
            return
        name, _ = split_adapter_ref(ref)
        stats = self.stats.setdefault(ref, VersionStats())
        stats.ticks += 1
        output = flat_output(result.output)
        if not bool(torch.isfinite(output).all()):
            stats.nonfinite += 1
            self._fault(ref, 'non-finite outputs')
            return
        shadow = self._shadows.get(name)
        if shadow is not None and inputs is not None:
            shadow.offer(inputs, output)

    def report_health(self, healthy: bool, source: str = 'health signal') -> None:
        """Feed the user's health signal: a fault demotes the active version if watched."""
        active = self.engine.active
        if not healthy and active and '@' in active:
            self._fault(active, f'{source} reported a fault')

    # ------------------------------------------------------------------------- reporting
    def status(self) -> Dict[str, Dict[str, Any]]:
        """Return per name: promoted, served, candidate, mode, pinned, history, shadow."""
        out = {}
        with self._lock:
            for name, versions in sorted(self.store.installed().items()):
                state = self.store.name_state(name)
                entry = {
                    'installed': ','.join(sorted(versions, key=parse_version)),
                    'promoted': state.promoted or '',
                    'served': self._served_version(name) or '',
                    'candidate': state.candidate or '',
                    'mode': state.candidate_mode or self.policies[name].mode,
                    'pinned': state.pinned,
                    'previous': ','.join(state.history),
                }
                shadow = self._shadows.get(name)
                if shadow is not None:
                    entry.update({f'shadow_{k}': v for k, v in shadow.summary().items()})
                for version in versions:
                    stats = self.stats.get(f'{name}@{version}')
                    if stats is not None:
                        entry[f'{version}.ticks'] = stats.ticks
                        entry[f'{version}.windows'] = stats.windows
                        entry[f'{version}.faults'] = stats.faults
                out[name] = entry
        return out

    def shadow(self, name: str) -> Optional[ShadowEvaluator]:
        return self._shadows.get(name)

    def close(self) -> None:
        with self._lock:
            for shadow in self._shadows.values():
                shadow.stop()
            self._shadows.clear()

    # ------------------------------------------------------------------------- internals
    def _target(self, ref: str) -> Tuple[str, str]:
        name, version = split_adapter_ref(ref)
        installed = self.store.installed().get(name, [])
        if version is None:
            state = self.store.name_state(name)
            newer = [v for v in installed if state.promoted is None
                     or parse_version(v) > parse_version(state.promoted)]
            version = state.candidate or (max(newer, key=parse_version) if newer else None)
            if version is None:
                raise AdapterError(f'{name} has no candidate or newer version to promote')
        if version not in installed:
            try:
                self.store.check_promotion(name, version, force=True)
            except ValueError as error:
                raise AdapterError(str(error)) from None
        return name, version

    def _load_and_probe(self, ref: str) -> None:
        """Make ``ref`` resident and probed, copying and probing in idle gaps."""
        index = self.engine.load_to_slot(ref, background=True)
        self.engine.probe_when_idle(index, ref)

    def _set_promoted(self, name: str, version: str, force: bool) -> None:
        if self.store.name_state(name).candidate == version:
            self._drop_candidate(name)
        try:
            self.store.promote(name, version, force)
        except ValueError as error:
            raise AdapterError(str(error)) from None
        self.store.save()
        self._serve(name)
        self._switch_if_active(name)

    def _drop_candidate(self, name: str) -> None:
        state = self.store.name_state(name)
        state.candidate, state.candidate_mode = None, ''
        shadow = self._shadows.pop(name, None)
        if shadow is not None:
            shadow.stop()

    def _start_shadow(self, name: str, version: str) -> None:
        policy = self.policies[name]
        ref = f'{name}@{version}'

        def judge(count: int) -> None:
            """Decide once ``min_ticks`` ticks were compared (policy with min_ticks > 0)."""
            if count != policy.min_ticks:
                return
            shadow = self._shadows.get(name)
            if shadow is None:
                return
            summary = shadow.summary()
            if summary['share_above'] <= policy.max_share:
                self._auto_promote(ref)
            else:
                self._event(f"{ref} stays a shadow candidate: {summary['share_above']:.1%} "
                            f'of {count} ticks diverged by more than {policy.threshold:g} '
                            f'(allowed {policy.max_share:.1%})')

        self._shadows[name] = ShadowEvaluator(
            self.engine, ref, policy.threshold,
            on_nonfinite=lambda bad: self._fault(bad, 'non-finite outputs in shadow'),
            on_compared=judge)

    def _fault(self, ref: str, reason: str) -> None:
        """Demote ``ref`` if it is a candidate or a promoted version with a predecessor."""
        name, version = split_adapter_ref(ref)
        with self._lock:
            state = self.store.name_state(name)
            self.stats.setdefault(ref, VersionStats()).faults += 1
            if version != state.candidate and not (version == state.promoted
                                                   and state.history):
                self._event(f'{ref}: {reason} (no previous version to roll back to)')
                return
            self.demoted[ref] = reason
            self.demote(name, reason=f'automatic rollback: {reason}')

    def _served_version(self, name: str) -> Optional[str]:
        state = self.store.name_state(name)
        policy = self.policies[name]
        if state.candidate and state.candidate_mode == 'canary':
            window = (self._episode if policy.window == 'episode'
                      else int(self.clock() // policy.window_s))
            if canary_serves_candidate(self.key, name, state.candidate, window, policy.share):
                return state.candidate
        return state.promoted

    def _move_canary_windows(self) -> None:
        for name, state in list(self.store.state.items()):
            if state.candidate_mode != 'canary' or not state.candidate:
                continue
            policy = self.policies[name]
            window = (self._episode if policy.window == 'episode'
                      else int(self.clock() // policy.window_s))
            if self._windows.get(name) == window:
                continue
            with self._lock:
                self._windows[name] = window
                served = self._serve(name)
                if served == state.candidate:
                    ref = f'{name}@{served}'
                    stats = self.stats.setdefault(ref, VersionStats())
                    stats.windows += 1
                    if 0 < policy.promote_after <= stats.windows and not stats.faults:
                        threading.Thread(target=self._auto_promote, args=(ref,),
                                         daemon=True).start()
                self._request_if_active(name)

    def _auto_promote(self, ref: str) -> None:
        try:
            self.promote(ref)
        except AdapterError as error:
            self._event(f'automatic promotion of {ref} failed: {error}')

    def _serve(self, name: str) -> Optional[str]:
        version = self._served_version(name)
        self.engine.serve(name, version)
        return version

    def _active_name(self) -> Optional[str]:
        active = self.engine.active
        return split_adapter_ref(active)[0] if active else None

    def _switch_if_active(self, name: str) -> None:
        """Switch now if the active adapter is another version of ``name``."""
        if self._active_name() == name:
            self.engine.activate(name)

    def _request_if_active(self, name: str) -> None:
        """Switch at the next tick if the active adapter is another version of ``name``."""
        if self._active_name() == name:
            self.engine.request(name)

    def _event(self, text: str) -> str:
        self.events.append(text)
        self.on_event(text)
        return text
