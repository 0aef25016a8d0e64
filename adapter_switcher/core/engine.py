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
The adapter engine: one frozen base model, many LoRA adapters, atomic switches between ticks.

Three tiers hold adapters: disk (validated directories, found by the registry), host RAM (the
:class:`HostCache`, filled by prefetch) and K resident slots inside the model's LoRA layers.
Switching between resident adapters writes one integer (the shared slot selector); loading a
non-resident adapter copies its weights into a free or least-recently-used slot, outside the
forward lock, straight from the mapped file or from host RAM.

Concurrency: every forward runs under the forward lock, and a switch only happens under that
lock, before a forward, so no forward ever sees a half-swapped model. Synchronous activations
are serialised; asynchronous requests (:meth:`request`) keep only the latest, which the next
:meth:`step` applies once that adapter is resident and probed. A newly loaded adapter must pass
a probe forward (finite outputs, and the manifest's expected output if it has one) before it
can become active; if anything fails, the previous adapter stays active and the error says why.
The probe runs on the smallest input the base accepts (see :mod:`probe_input`), and its result
(pass, or the reason it failed) is remembered per adapter version: a reload is not probed again.
With ``probe_ahead`` every newly registered version is probed in the idle gaps between ticks,
in a slot of its own, while the active adapter keeps running; a synchronous activation then
costs a copy of the weights and a switch, and a bad adapter is refused without a forward.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
import threading
import time
from typing import Any, Callable, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple

from adapter_switcher.core.adapter_files import AdapterFormatError
from adapter_switcher.core.base_model import model_fingerprint
from adapter_switcher.core.errors import AdapterError
from adapter_switcher.core.errors import MixedBatchError
from adapter_switcher.core.errors import NoPreviousAdapter
from adapter_switcher.core.errors import ProbeFailed
from adapter_switcher.core.gap_slices import GapPacer
from adapter_switcher.core.gap_slices import in_groups
from adapter_switcher.core.gap_slices import Slices
from adapter_switcher.core.gap_slices import unpaced
from adapter_switcher.core.handover import HandOver
from adapter_switcher.core.handover import Weights
from adapter_switcher.core.host_cache import HostCache
from adapter_switcher.core.host_cache import ModuleWeights
from adapter_switcher.core.load_worker import LoadJob
from adapter_switcher.core.load_worker import LoadWorker
from adapter_switcher.core.metrics import EngineMetrics
from adapter_switcher.core.mix import check_mix
from adapter_switcher.core.mix import mix_label
from adapter_switcher.core.names import check_adapter_ref
from adapter_switcher.core.probe import check_probe_output
from adapter_switcher.core.probe import manifest_probe
from adapter_switcher.core.probe_input import ProbeInputs
from adapter_switcher.core.probe_input import ProbeInputSource
from adapter_switcher.core.registry import AdapterRecord
from adapter_switcher.core.registry import AdapterRegistry
from adapter_switcher.core.registry import AdapterValidator
from adapter_switcher.core.registry import file_identity
from adapter_switcher.core.registry import ScanReport
from adapter_switcher.core.row_routing import batch_size
from adapter_switcher.core.row_routing import routed
from adapter_switcher.core.safetensors_io import MappedSafetensors
from adapter_switcher.core.safetensors_io import SafetensorsFormatError
from adapter_switcher.core.slot_layers import BatchLayoutError
from adapter_switcher.core.slot_layers import EMPTY
from adapter_switcher.core.slot_layers import MIX
from adapter_switcher.core.slot_layers import slot_layer_for
from adapter_switcher.core.slot_layers import SlotLoraLayer
from adapter_switcher.core.slot_layers import SlotSelector
from adapter_switcher.core.slot_layers import wrap_module
from adapter_switcher.core.slot_table import SlotState
from adapter_switcher.core.slot_table import SlotTable
from adapter_switcher.core.tick_clock import TickClock

import torch
from torch import nn

SLOT_WAIT_S = 30.0
CHUNK_BYTES = 4 << 20
TRIAL_SLOT = '~trial:'
MAPPINGS_KEPT = 16
GRAIN = 32768       # at::internal::GRAIN_SIZE: torch splits larger copies over its threads


@dataclass(frozen=True)
class EngineConfig:
    """
    Capacity of the tiers: resident slots, their rank, and the host-RAM budget.

    ``keep_inactive=False`` is the memory-tight mode: an adapter's slot is freed as soon as it
    stops being active, so besides the active adapter only prefetched ones are resident.
    ``probe_ahead=True`` probes each adapter version once when it is registered (scan or add),
    on the loader thread in the gaps between ticks, using one extra slot that is never
    activated; the probe forward then leaves the critical path of activations.
    ``packed_base=True`` runs the adapted Linear and Conv1D layers' base matmuls (float32, CPU)
    on oneDNN from weights packed once (:mod:`packed_matmul`): about half their cost for
    batches of many rows, the packed copy of those weights in memory, outputs equal to PEFT's
    to float rounding instead of bit for bit.
    """

    num_slots: int = 4
    max_rank: int = 16
    host_cache_bytes: int = 256 << 20
    keep_inactive: bool = True
    probe_ahead: bool = False
    packed_base: bool = False


@dataclass(frozen=True)
class SwapReport:
    """One completed switch: from, to, how long it took, and whether it needed a load."""

    previous: Optional[str]
    active: Optional[str]
    seconds: float
    cold: bool


@dataclass(frozen=True)
class StepResult:
    """
    One inference tick.

    ``adapter`` produced ``output``; ``swap`` is the switch applied just before it, if any;
    ``error`` explains a pending request that failed (the previous adapter stayed active).
    """

    output: Any
    adapter: Optional[str]
    swap: Optional[SwapReport] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class AdapterInfo:
    """An adapter as listed to operators: where it is and what it is."""

    name: str
    version: str
    rank: int
    tags: List[str]
    tier: str
    pinned: bool


@dataclass(frozen=True)
class BatchResult:
    """
    One mixed-adapter forward.

    ``output`` covers every row; ``adapters`` is the adapter each row ran (None: base);
    ``loaded`` the adapters that were made resident for this batch.
    """

    output: Any
    adapters: List[Optional[str]]
    loaded: List[str]


@dataclass
class _Pending:
    name: str
    since: float
    hit: bool
    error: Optional[str] = None
    blend_ticks: int = 0


class AdapterEngine:
    """Runs a base model with one of many LoRA adapters; see the module docstring."""

    def __init__(self, model: nn.Module, adapter_dirs: Sequence = (),
                 config: EngineConfig = EngineConfig(),
                 probe_inputs: Optional[ProbeInputs] = None,
                 base_fingerprint: Optional[str] = None):
        if config.max_rank < 1:
            raise ValueError(f'max_rank must be >= 1, got {config.max_rank}')
        if config.num_slots < 2:
            raise ValueError(f'num_slots must be >= 2 (the active adapter is never evicted, so '
                             f'a switch needs a second slot), got {config.num_slots}')
        self.model = model.eval()
        self.config = config
        self.fingerprint = base_fingerprint or model_fingerprint(model)
        self.metrics = EngineMetrics()
        self._registry = AdapterRegistry(adapter_dirs, AdapterValidator(
            dict(model.named_modules()), config.max_rank, self.fingerprint))
        self._selector = SlotSelector()
        self._layers: Dict[str, SlotLoraLayer] = {}
        self._slots = SlotTable(config.num_slots)
        self._vet_slot = config.num_slots if config.probe_ahead else None
        self._slot_count = config.num_slots + int(config.probe_ahead)
        self._identities: List[Optional[tuple]] = [None] * self._slot_count
        self._host = HostCache(config.host_cache_bytes)
        self._probe_inputs = ProbeInputSource(self.model, probe_inputs, self._run_base)
        self._probe_passed: Dict[str, tuple] = {}
        self._probe_failed: Dict[str, Tuple[tuple, str]] = {}
        self._mappings: Dict[str, MappedSafetensors] = {}
        self._forward_lock = threading.RLock()
        self._swap_lock = threading.Lock()
        self._state = threading.Condition()
        self._clock = TickClock()
        self._pacer = GapPacer(self._clock)
        self._active: Optional[str] = None
        self._history: List[Optional[str]] = []
        self._pending: Optional[_Pending] = None
        self._held: List[int] = []      # slots pinned because a mix or hand-over reads them
        self._mix: Optional[Dict[str, float]] = None
        self._blend: Optional[HandOver] = None
        self._awaiting: Optional[_Pending] = None
        self._worker = LoadWorker(self._run_job)
        self.scan()

    # ----------------------------------------------------------------------------- registry
    def scan(self) -> ScanReport:
        """Rescan the adapter directories; the active adapter keeps running whatever is found."""
        report = self._registry.scan()
        self._wrap_targets()
        with self._state:
            active_slot = self._selector.active
            for index, slot in enumerate(self._slots.slots):
                stale = (slot.state is SlotState.READY
                         and (slot.adapter not in self._registry
                              or self._registry.get(slot.adapter).identity
                              != self._identities[index]))
                if stale and index != active_slot and not slot.pins:
                    self._slots.release(index)
        for name in self._host.names():
            if name not in self._registry:
                self._host.discard(name)
        self.metrics.count('scans')
        self._probe_ahead(self._registry.records())
        return report

    def add(self, directory: Path, tried: Optional[AdapterRecord] = None) -> str:
        """
        Register one new adapter directory without rescanning the others; return its name.

        For installers adding a version to a directory the engine scans: the new directory is
        validated like a scan would; the adapters already known are not read again. ``tried``
        is what :meth:`trial` returned for these files before they were renamed into place:
        if the weight file is still the one tried, it is not read or probed again, and the
        rest is read in idle-gap slices like the trial (the caller is the trial's thread).
        """
        slices = unpaced if tried is None else self.idle_slice
        record = self._registry.add(Path(directory), tried, slices)
        self._wrap_targets([record])
        if (tried is not None and record.identity == tried.identity
                and self._probe_passed.get(tried.name) == _probe_key(tried, tried.identity)):
            self._probe_passed[record.name] = _probe_key(record, record.identity)
        self._probe_ahead([record])
        return record.name

    def _wrap_targets(self, records: Sequence[AdapterRecord] = (),
                      slices: Slices = unpaced) -> None:
        """Give every module the records target its slot layer (built first, then swapped in)."""
        records = list(records) or self._registry.records()
        needed = {m for r in records for m in r.plan.modules} - set(self._layers)
        if not needed:
            return
        built = {}
        for name in sorted(needed):
            with slices('wrap', 1):
                built[name] = slot_layer_for(self.model, name, self._selector,
                                             self._slot_count, self.config.max_rank,
                                             self.config.packed_base)
        with self._forward_lock:
            for name, layer in built.items():
                if name not in self._layers:
                    self._layers[name] = wrap_module(self.model, name, layer)

    def adapters(self) -> List[AdapterInfo]:
        """List every accepted adapter with its tier: active, resident, host or disk."""
        with self._state:
            resident = set(self._slots.resident())
            pinned = {s.adapter for s in self._slots.slots if s.pins}
            active = self._active
        host = set(self._host.names())
        infos = []
        for record in self._registry.records():
            name = record.name
            tier = ('active' if name == active else 'resident' if name in resident
                    else 'host' if name in host else 'disk')
            infos.append(AdapterInfo(name, record.version, record.rank, record.tags, tier,
                                     name in pinned))
        return infos

    def rejections(self) -> Dict[str, str]:
        """Return ``{directory: reason}`` of the adapter directories the last scan rejected."""
        return self._registry.rejections()

    @property
    def active(self) -> Optional[str]:
        """Return the adapter the next forward uses (None: the base model alone)."""
        return self._active

    def known(self, name: str) -> bool:
        """Return whether ``name`` is an accepted adapter."""
        return name in self._registry

    def is_ready(self, name: str) -> bool:
        """Return whether ``name`` is resident and probed: switching to it is O(1)."""
        if name not in self._registry:
            return False
        record = self._registry.get(name)
        with self._state:
            index = self._ready_slot(record)
            return index is not None and self._slots.slots[index].probed

    def in_host(self, name: str) -> bool:
        """Return whether ``name`` is staged in host RAM."""
        return name in self._host

    def check(self, name: str) -> AdapterRecord:
        """Raise what activate() would for an unknown, rejected or invalid name; else return."""
        return self._registry.get(check_adapter_ref(name))

    def versions(self, name: str) -> List[str]:
        """Return the registered versions of ``name`` (``name@version`` directories)."""
        return self._registry.versions(check_adapter_ref(name))

    def serve(self, name: str, version: Optional[str]) -> None:
        """
        Make the plain ``name`` mean ``name@version`` from now on (None: its only version).

        The active adapter is untouched: a later activate or request of ``name`` switches.
        """
        self._registry.serve(check_adapter_ref(name), version)

    # ---------------------------------------------------------------------------- switching
    def activate(self, name: str) -> SwapReport:
        """Make ``name`` active now (loading and probing it if needed); raise AdapterError."""
        return self._activate(name, remember=True)

    def deactivate(self) -> SwapReport:
        """Run the base model alone from the next forward on."""
        return self._deactivate(remember=True)

    def rollback(self) -> SwapReport:
        """Go back to the previously active adapter; raise NoPreviousAdapter if none."""
        with self._state:
            if not self._history:
                raise NoPreviousAdapter('no previous adapter to roll back to')
            target = self._history[-1]
        if target is None:
            report = self._deactivate(remember=False)
        else:
            report = self._activate(target, remember=False)
        with self._state:
            if self._history and self._history[-1] == target:
                self._history.pop()
        return report

    def _deactivate(self, remember: bool) -> SwapReport:
        with self._swap_lock:
            start = time.perf_counter()
            with self._forward_lock:
                previous = self._switch(EMPTY, None, remember, start)
            return SwapReport(previous, None, time.perf_counter() - start, cold=False)

    def _activate(self, name: str, remember: bool) -> SwapReport:
        check_adapter_ref(name)
        with self._swap_lock:
            start = time.perf_counter()
            record = self._registry.get(name)
            name = record.name
            if name == self._active:
                return SwapReport(name, name, 0.0, cold=False)
            index, cold = self._resident_slot(record)
            try:
                with self._forward_lock:
                    if not self._slots.slots[index].probed:
                        self._probe(index, record)
                    previous = self._switch(index, name, remember, start)
            finally:
                self._unpin(index)
            seconds = time.perf_counter() - start
            self.metrics.observe('cold_activation' if cold else 'switch', seconds)
            return SwapReport(previous, name, seconds, cold)

    def _resident_slot(self, record: AdapterRecord) -> Tuple[int, bool]:
        """Return ``(slot, was_cold)`` with the adapter READY in a pinned slot."""
        with self._state:
            index = self._ready_slot(record)
            if index is not None:
                self._slots.slots[index].pins += 1
                return index, False
        index = self.load_to_slot(record.name, pin=True)
        return index, True

    def _switch(self, index: int, name: Optional[str], remember: bool,
                requested_at: float) -> Optional[str]:
        """
        Point every layer at ``index``; call with the forward lock held.

        A pending request made before ``requested_at`` is superseded by this switch.
        """
        with self._state:
            previous, previous_index = self._active, self._selector.active
            was_mix = self._mix is not None
            self._release_held()
            self._selector.active = index
            self._active = name
            if (not self.config.keep_inactive and previous_index >= 0 and previous_index != index
                    and not self._slots.slots[previous_index].pins):
                self._slots.release(previous_index)
            if remember and previous != name and not was_mix:
                self._history.append(previous)
                del self._history[:-16]
            if index >= 0:
                self._slots.touch(index)
                self._slots.slots[index].used = True
            if self._pending is not None and self._pending.since <= requested_at:
                self._pending = None
        self.metrics.count('swaps')
        return previous

    def _release_held(self) -> None:
        """End any mix or hand-over: unpin the slots it read (state lock held)."""
        for index in self._held:
            slot = self._slots.slots[index]
            slot.pins = max(0, slot.pins - 1)
        self._held, self._mix, self._blend = [], None, None
        self._selector.mix = []

    def activate_mix(self, weights: Mapping[str, float]) -> SwapReport:
        """
        Run the weighted sum of several adapters' LoRA outputs from the next forward on.

        ``{'navigation': 0.7, 'hazard': 0.3}`` gives every LoRA layer
        ``0.7 * nav_delta + 0.3 * haz_delta``, which is PEFT's ``add_weighted_adapter`` with
        ``combination_type='cat'``; nothing is written into the slots, so it costs no copy.
        The adapters are loaded (and probed) if needed and stay resident while the mix runs;
        :attr:`active` reads ``mix(navigation=0.7, hazard=0.3)``. Any ``activate``,
        ``deactivate`` or applied request ends the mix.
        """
        mix = check_mix(weights, self.config.num_slots)
        records = {name: self.check(name) for name in mix}
        label = mix_label(mix)
        with self._swap_lock:
            start = time.perf_counter()
            slots, loaded = self._pin_all(records)
            try:
                with self._forward_lock:
                    for name, index in slots.items():
                        if not self._slots.slots[index].probed:
                            self._probe(index, records[name])
                    previous = self._switch(MIX, label, True, start)
                    with self._state:
                        self._held, self._mix = list(slots.values()), mix
                        self._selector.mix = [(slots[n], torch.tensor(w)) for n, w in mix.items()]
                        for index in slots.values():
                            self._slots.touch(index)
                            self._slots.slots[index].used = True
            except BaseException:
                for index in slots.values():
                    self._unpin(index)
                raise
            seconds = time.perf_counter() - start
        return SwapReport(previous, label, seconds, cold=bool(loaded))

    @property
    def mix(self) -> Optional[Dict[str, float]]:
        """Return the running mix's weights, or None when no mix runs."""
        return dict(self._mix) if self._mix is not None else None

    def request(self, name: str, blend_ticks: int = 0) -> None:
        """
        Ask for ``name`` from the next possible step on, without blocking (latest wins).

        Unknown, rejected or invalid names raise at once. A resident, probed adapter is
        switched to by the next :meth:`step`; any other is loaded and probed in the background
        first, while steps go on with the current adapter. With ``blend_ticks=N`` the switch
        is a hand-over: the next N steps run a linear blend from what ran before to ``name``
        (see :mod:`handover`), then ``name`` alone; ``0`` switches at once.
        """
        if isinstance(blend_ticks, bool) or not isinstance(blend_ticks, int) or blend_ticks < 0:
            raise ValueError(f'blend_ticks must be an integer >= 0, got {blend_ticks!r}')
        record = self.check(name)
        name = record.name
        now = time.perf_counter()
        with self._state:
            if name == self._active:
                self._pending = None
                return
            index = self._ready_slot(record)
            hit = index is not None and self._slots.slots[index].probed
            self._pending = _Pending(name, now, hit, blend_ticks=blend_ticks)
        self.metrics.count('requests')
        self.metrics.count('request_hits' if hit else 'request_misses')
        if not hit:
            self._worker.submit_request(LoadJob(name, to_slot=True, evict=True, prefetch=False))

    def pending(self) -> Optional[str]:
        """Return the requested adapter not yet switched to, if any."""
        with self._state:
            return self._pending.name if self._pending else None

    # ---------------------------------------------------------------------------- inference
    def step(self, *args, **kwargs) -> StepResult:
        """Run one tick: apply a ready request, then ``model(*args, **kwargs)``."""
        return self.run(lambda model, adapter: model(*args, **kwargs), inputs=(args, kwargs))

    def run(self, forward: Callable[[nn.Module, Optional[str]], Any],
            inputs: Optional[ProbeInputs] = None) -> StepResult:
        """
        Run ``forward(model, adapter)`` as one tick, under the forward lock.

        A pending request whose adapter is ready is applied first, so the switch falls between
        two ticks. ``inputs`` (args, kwargs) are kept as the probe inputs for the next load.
        """
        swap, error = None, None
        self._clock.tick_started()
        with self._forward_lock:
            with self._state:
                pending, index = self._take_pending()
                if index is not None:
                    start = time.perf_counter()
                    handover = self._hand_over_to(index, pending.blend_ticks)
                    previous = self._switch(index, pending.name, True, pending.since)
                    if handover is not None:
                        self._blend, self._held = handover, handover.slots()
                    swap = SwapReport(previous, pending.name, time.perf_counter() - start,
                                      cold=not pending.hit)
                    self._awaiting = pending
                elif pending is not None:
                    error = pending.error
                if self._blend is not None:
                    self._advance_blend()
            adapter = self._active
            with torch.inference_mode():
                output = forward(self.model, adapter)
            if inputs is not None:
                self._probe_inputs.observe(inputs)
        self._after_step(adapter)
        return StepResult(output, adapter, swap, error)

    def _current_weights(self) -> Weights:
        """Return what the selector runs now as slot weights (state lock held)."""
        active = self._selector.active
        if active == MIX:
            return [(index, float(weight)) for index, weight in self._selector.mix]
        return [] if active == EMPTY else [(active, 1.0)]

    def _hand_over_to(self, target: int, ticks: int) -> Optional[HandOver]:
        """
        Return the hand-over from what runs now to ``target`` (None for ``ticks=0``).

        Its slots are pinned before the switch, so the switch cannot free the old slot.
        """
        if not ticks:
            return None
        handover = HandOver(self._current_weights(), target, ticks)
        for index in handover.slots():
            self._slots.slots[index].pins += 1
        return handover

    def _advance_blend(self) -> None:
        """Set this tick's hand-over weights, or end the hand-over (locks held)."""
        weights = self._blend.next_weights()
        if weights is None:
            target = self._blend.target
            self._release_held()
            self._selector.active = target
            return
        self._selector.mix = [(index, torch.tensor(w)) for index, w in weights]
        self._selector.active = MIX

    def step_batch(self, *args, adapters: Sequence[Optional[str]], **kwargs) -> BatchResult:
        """
        Run ``model(*args, **kwargs)`` once, each row with its own adapter (None: base only).

        The inputs carry the batch in dimension 0, one entry of ``adapters`` per row. Adapters
        not resident are loaded (and probed) first, within the slot budget; the active adapter
        and any pending request are untouched. Raise an AdapterError (UnknownAdapter,
        AdapterRejected, MixedBatchError, ProbeFailed, ...) without running anything if the
        batch cannot run, e.g. when it names more distinct adapters than the slots can hold.
        """
        adapters = list(adapters)
        rows = batch_size(args, kwargs)
        if rows != len(adapters):
            raise MixedBatchError(f'step_batch got {len(adapters)} adapters for a batch of '
                                  f'{rows} rows: give one adapter (or None) per row')
        records = {n: self.check(n) for n in sorted({a for a in adapters if a is not None})}
        with self._state:
            active = self._active
        budget = self.config.num_slots - int(active is not None and active not in records)
        if len(records) > budget:
            keeps = (f", one keeps the active adapter '{active}'"
                     if budget < self.config.num_slots else '')
            raise MixedBatchError(
                f'the batch names {len(records)} distinct adapters but only {budget} slots can '
                f'hold them (num_slots={self.config.num_slots}{keeps})')
        slots, loaded = self._pin_all(records)
        try:
            self._clock.tick_started()
            with self._forward_lock:
                for name, index in slots.items():
                    if not self._slots.slots[index].probed:
                        self._probe(index, records[name])
                row_slots = [None if a is None else slots[a] for a in adapters]
                device = next(iter(self._layers.values())).scaling.device if slots else None
                with routed(self._selector, row_slots, device), torch.inference_mode():
                    try:
                        output = self.model(*args, **kwargs)
                    except BatchLayoutError as error:
                        raise MixedBatchError(str(error)) from None
        finally:
            for index in slots.values():
                self._unpin(index)
            self._clock.tick_ended()
        self.metrics.count('batch_steps')
        return BatchResult(output, adapters, loaded)

    def _pin_all(self, records: Dict[str, AdapterRecord]) -> Tuple[Dict[str, int], List[str]]:
        """Make every adapter resident in a pinned slot; return ``({name: slot}, loaded)``."""
        slots: Dict[str, int] = {}
        with self._state:
            for name, record in records.items():
                index = self._ready_slot(record)
                if index is not None:
                    self._slots.slots[index].pins += 1
                    slots[name] = index
        loaded = [n for n in records if n not in slots]
        try:
            for name in loaded:
                slots[name] = self.load_to_slot(name, pin=True)
        except BaseException:
            for index in slots.values():
                self._unpin(index)
            raise
        return slots, loaded

    def _take_pending(self) -> Tuple[Optional[_Pending], Optional[int]]:
        """
        Return ``(pending, slot)`` for a request to apply now (state lock held).

        ``slot`` is None when the request failed (``pending.error`` says why); nothing is
        taken while the requested adapter is still loading or unprobed.
        """
        pending = self._pending
        if pending is None:
            return None, None
        index = None
        if pending.error is None:
            try:
                record = self._registry.get(pending.name)
            except AdapterError as error:
                pending.error = str(error)
            else:
                index = self._ready_slot(record)
                if index is None or not self._slots.slots[index].probed:
                    return None, None
        self._pending = None
        return pending, index

    def _after_step(self, adapter: Optional[str]) -> None:
        self._clock.tick_ended()
        awaiting = self._awaiting
        if awaiting is not None and awaiting.name == adapter:
            kind = 'switch_to_output_hit' if awaiting.hit else 'switch_to_output_miss'
            self.metrics.observe(kind, time.perf_counter() - awaiting.since)
            self._awaiting = None
        self.metrics.count('steps')

    # ------------------------------------------------------------------------------ loading
    def load_to_slot(self, name: str, pin: bool = False, prefetch: bool = False,
                     evict: bool = True, background: bool = False) -> int:
        """
        Make ``name`` resident and return its slot; never holds the forward lock.

        Copies from host RAM when cached, else straight from the mapped file; if the file
        changed since validation it is validated again first. ``pin`` keeps the slot from
        eviction until the caller unpins it; ``background`` copies in slices that fit
        between inference ticks.
        """
        record = self._registry.get(check_adapter_ref(name))
        name = record.name
        with self._state:
            while True:
                index = self._slots.find(name)
                if index is None or self._slots.slots[index].state is not SlotState.LOADING:
                    break
                if not self._state.wait(SLOT_WAIT_S):
                    raise AdapterError(f"timed out waiting for adapter '{name}' to load")
            index = self._ready_slot(record)
            if index is not None:
                self._slots.slots[index].pins += int(pin)
                self.metrics.count('slot_hits')
                return index
            self._release_stale(name, record)
            # A prefetch must not push out the adapter a request waits for; a demand load
            # (a newer request, an activation) supersedes that request and may.
            requested = self._requested_slot() if prefetch else None
            reservation = self._slots.reserve(name, self._selector.active, prefetch, evict,
                                              requested=requested)
            if reservation.evicted_unused_prefetch:
                self.metrics.count('prefetch_wasted')
            self.metrics.count('slot_misses')
        index = reservation.index
        start = time.perf_counter()
        try:
            record = self._write_slot(index, record, background)
        except BaseException:
            with self._state:
                self._slots.release(index)
                self._state.notify_all()
            raise
        with self._state:
            self._slots.mark_ready(index)
            self._identities[index] = record.identity
            self._slots.slots[index].pins += int(pin)
            self._state.notify_all()
        self.metrics.observe('slot_load', time.perf_counter() - start)
        return index

    def _release_stale(self, name: str, record: AdapterRecord) -> None:
        """Free idle slots holding an older version of ``name`` (state lock held)."""
        for index, slot in enumerate(self._slots.slots):
            if (slot.adapter == name and slot.state is SlotState.READY and not slot.pins
                    and index != self._selector.active
                    and self._identities[index] != record.identity):
                self._slots.release(index)

    def _requested_slot(self) -> Optional[int]:
        """Return the READY slot of the adapter a pending request waits for (state lock held)."""
        pending = self._pending
        return None if pending is None else self._slots.ready(pending.name)

    def _ready_slot(self, record: AdapterRecord) -> Optional[int]:
        """Return the READY slot holding this exact version of the adapter (state lock held)."""
        for index, slot in enumerate(self._slots.slots):
            if (slot.adapter == record.name and slot.state is SlotState.READY
                    and self._identities[index] == record.identity):
                return index
        return None

    def _write_slot(self, index: int, record: AdapterRecord,
                    background: bool) -> AdapterRecord:
        """Copy the adapter's weights into a reserved slot; return the record used."""
        cached = self._host.pin(record.name)
        try:
            return self._write_slot_from(index, record, cached, background)
        except (OSError, SafetensorsFormatError) as error:
            raise self._registry.reject(record.name, f'cannot read its weights: {error}')
        finally:
            if cached is not None:
                self._host.unpin(record.name)

    def _write_slot_from(self, index: int, record: AdapterRecord,
                         cached: Optional[ModuleWeights], background: bool) -> AdapterRecord:
        """Copy from host RAM when cached, else from the mapped file (validated if changed)."""
        if cached is not None:
            self._copy_into(index, record, lambda m, which: cached[m][which], background)
            return record
        mapped = self._mapped(record)
        if mapped is None:
            record, tensors = self._registry.revalidate(record.name)
            self.metrics.count('revalidations')
            self._copy_into(index, record, lambda m, which: tensors[_key(record, m, which)],
                            background)
            return record
        self._copy_into(index, record, lambda m, which: mapped.view(_key(record, m, which)),
                        background)
        return record

    def _copy_into(self, index: int, record: AdapterRecord,
                   tensor: Callable[[str, int], torch.Tensor], background: bool) -> None:
        """
        Copy every target module's A and B into the slot, then enable its scalings.

        In the background, planning the copies (a view per tensor per layer, a few
        milliseconds of Python for a large model) is a slice of its own, so it too runs in an
        idle gap and not while a tick needs the GIL.
        """
        with self._slice('plan', len(self._layers), background):
            copies, zeros, scalings = [], [], []
            for module_name, layer in self._layers.items():
                plan = record.plan.modules.get(module_name)
                if plan is None:
                    zeros.extend(layer.clear_slot(index))
                    continue
                slot_targets, slot_sources, slot_padding = layer.slot_copies(
                    index, plan.rank, tensor(module_name, 0), tensor(module_name, 1))
                copies.extend(zip(slot_targets, slot_sources))
                zeros.extend(p for p in slot_padding if p.numel())
                scalings.append((layer, plan.scaling))
        self._copy(copies, zeros, background)
        for layer, scaling in scalings:
            layer.set_scaling(index, scaling)

    def _slice(self, kind: str, amount: float, background: bool) -> ContextManager[None]:
        """Return an idle-gap slice for background work, a no-op context otherwise."""
        return self.idle_slice(kind, amount) if background else nullcontext()

    def _copy(self, copies: List[Tuple[torch.Tensor, torch.Tensor]], zeros: List[torch.Tensor],
              background: bool) -> None:
        """
        Copy each ``(target, source)`` and zero ``zeros``; in the background, in slices.

        A foreground copy (someone is waiting for it) is one batched call. A background copy
        goes in slices of about CHUNK_BYTES, each started in an idle gap that fits it (see
        :mod:`gap_slices`); a tensor larger than that is cut into rows first, and zero-fills
        (a small adapter's padding in a large slot can be most of the slot) are slices too.
        Cutting to torch's grain (with several intra-op threads) happens inside each slice, so
        a slice's time, and the rate learned from it, includes it.
        """
        if not background:
            with torch.no_grad():
                if zeros:
                    torch._foreach_zero_(zeros)
                _copy_pairs(_split_rows(copies, GRAIN))
            return
        work = _split_rows(copies + [(z, None) for z in zeros], None)
        for group, nbytes in in_groups(work, lambda pair: pair[0].nbytes, CHUNK_BYTES):
            with self.idle_slice('copy', nbytes), torch.no_grad():
                fills = [target for target, source in group if source is None]
                if fills:
                    torch._foreach_zero_(fills)
                _copy_pairs(_on_this_thread([pair for pair in group if pair[1] is not None]))

    def _mapped(self, record: AdapterRecord) -> Optional[MappedSafetensors]:
        """
        Return the adapter's weight file mapped, or None if it changed since validation.

        The last few mappings are kept: mapping a file and faulting its pages in again costs
        more than copying a small adapter, and reloads of recent adapters are the common case.
        """
        path = str(record.files.weights_path)
        if file_identity(record.files.weights_path) != record.identity:
            return None
        with self._state:
            mapped = self._mappings.pop(path, None)
        if mapped is None or mapped.identity != record.identity:
            mapped = MappedSafetensors(path)
        with self._state:
            self._mappings[path] = mapped
            while len(self._mappings) > MAPPINGS_KEPT:
                self._mappings.pop(next(iter(self._mappings)))
        return mapped if mapped.identity == record.identity else None

    def load_to_host(self, name: str, background: bool = False) -> bool:
        """Read an adapter into host RAM; return False if it cannot fit the budget."""
        record = self._registry.get(check_adapter_ref(name))
        name = record.name
        if name in self._host:
            return True
        start = time.perf_counter()
        try:
            if file_identity(record.files.weights_path) != record.identity:
                record, tensors = self._registry.revalidate(name)
                self.metrics.count('revalidations')
            else:
                tensors = self._read_mapped(record, background)
        except (OSError, SafetensorsFormatError) as error:
            raise self._registry.reject(name, f'cannot read its weights: {error}')
        weights = {m: (tensors[p.a_key], tensors[p.b_key]) for m, p in record.plan.modules.items()}
        stored = self._host.put(name, weights)
        self.metrics.observe('host_load', time.perf_counter() - start)
        return stored

    def _read_mapped(self, record: AdapterRecord, background: bool) -> Dict[str, torch.Tensor]:
        """Read the adapter's tensors into fresh RAM (a copy of the mapped file)."""
        mapped = MappedSafetensors(str(record.files.weights_path))
        keys = list(mapped.keys())
        sources = [mapped.view(k) for k in keys]
        targets = [torch.empty_like(t) for t in sources]
        self._copy(list(zip(targets, sources)), [], background)
        return dict(zip(keys, targets))

    def _unpin(self, index: int) -> None:
        with self._state:
            slot = self._slots.slots[index]
            slot.pins = max(0, slot.pins - 1)

    # ------------------------------------------------------------------------------- probing
    def probe_when_idle(self, index: int, name: str) -> None:
        """Probe a loaded slot in the gap between ticks, so the probe never delays a tick."""
        record = self._registry.get(name)
        name = record.name
        self._pacer.wait_for_forward()
        with self._forward_lock:
            with self._state:
                slot = self._slots.slots[index]
                if slot.adapter != name or slot.state is not SlotState.READY or slot.probed:
                    return
            self._probe(index, record)

    def _probe(self, index: int, record: AdapterRecord) -> None:
        """Probe the adapter in slot ``index``; forward lock held. On failure free the slot."""
        problem = self._probe_result(index, record)
        with self._state:
            if problem is not None:
                self._slots.release(index)
                self._state.notify_all()
            else:
                self._slots.slots[index].probed = True
        if problem is not None:
            raise ProbeFailed(f"adapter '{record.name}' failed its probe: {problem}")

    def _probe_result(self, index: int, record: AdapterRecord) -> Optional[str]:
        """
        Return why the adapter in slot ``index`` fails its probe, or None; forward lock held.

        A version probed before (same weight file, same manifest probe) is not run again: the
        slot holds the very bytes that passed or failed, and the base is frozen. A failure to
        form a probe input is not the adapter's fault and is not remembered.
        """
        key = _probe_key(record, self._identities[index])
        known = self._known_probe(record.name, key)
        if known is not None:
            self.metrics.count('probes_remembered')
            return known or None
        start = time.perf_counter()
        remember = True
        try:
            args, kwargs, expected, atol = self._probe_plan(record)
        except TypeError as error:
            problem, remember = str(error), False
        else:
            try:
                output = self._forward_in_slot(index, lambda model: model(*args, **kwargs))
                problem = check_probe_output(output, expected, atol)
            except (AdapterFormatError, SafetensorsFormatError, OSError, TypeError) as error:
                problem = str(error)
        self.metrics.observe('probe', time.perf_counter() - start)
        if problem is None:
            self._probe_passed[record.name] = key
            self._probe_failed.pop(record.name, None)
        else:
            self.metrics.count('probe_failures')
            if remember:
                self._probe_failed[record.name] = (key, problem)
        return problem

    def _known_probe(self, name: str, key: tuple) -> Optional[str]:
        """Return '' if this version passed its probe, the reason if it failed, else None."""
        if self._probe_passed.get(name) == key:
            return ''
        failed = self._probe_failed.get(name)
        return failed[1] if failed is not None and failed[0] == key else None

    def _probe_ahead(self, records: Sequence[AdapterRecord]) -> None:
        """Queue a probe of every version not probed yet (``probe_ahead`` engines only)."""
        if self._vet_slot is None:
            return
        jobs = [LoadJob(r.name, to_slot=False, evict=False, prefetch=False, vet=True)
                for r in records if self._known_probe(r.name, _probe_key(r, r.identity)) is None]
        if jobs:
            self._worker.submit_vetting(jobs)

    def _vet(self, name: str) -> None:
        """
        Probe a registered adapter in the vetting slot, between ticks (loader thread).

        The slot is never selected outside this probe, so the active adapter, the slot table
        and a pending request are untouched. The result is remembered like any probe's.
        """
        try:
            record = self._registry.get(name)
        except AdapterError:
            return      # removed, rejected or replaced since it was queued
        if self._known_probe(record.name, _probe_key(record, record.identity)) is not None:
            return
        index = self._vet_slot
        try:
            record = self._write_slot(index, record, background=True)
        except AdapterError:
            return      # unreadable: the registry rejected it, with the reason
        self._identities[index] = record.identity
        self._pacer.wait_for_forward()
        with self._forward_lock:
            self._probe_result(index, record)
        self.metrics.count('probes_ahead')

    def _forward_in_slot(self, index: int, forward: Callable[[nn.Module], Any]) -> Any:
        """Run one forward with slot ``index`` selected; forward lock held by the caller."""
        saved = self._selector.active
        self._selector.active = index
        try:
            with torch.inference_mode():
                return forward(self.model)
        finally:
            self._selector.active = saved

    def side_forward(self, name: str, forward: Callable[[nn.Module], Any]) -> Any:
        """
        Run ``forward(model)`` once with ``name`` selected, without switching to it.

        For evaluating a candidate on the inputs the active adapter just saw (its output goes
        nowhere else): the forward waits for an idle gap between ticks, and the active adapter
        and the next tick are untouched. ``name`` must be resident and probed. Return None,
        running nothing, when the control loop leaves no gap as long as a forward.
        """
        record = self.check(name)
        if not self._clock.fits_in_gap(self._clock.duration):
            return None
        self._clock.wait_for_room(self._clock.duration)
        with self._forward_lock:
            with self._state:
                index = self._ready_slot(record)
                if index is None or not self._slots.slots[index].probed:
                    raise AdapterError(f"adapter '{record.name}' is not resident and probed")
                self._slots.slots[index].pins += 1
            try:
                return self._forward_in_slot(index, forward)
            finally:
                self._unpin(index)

    def trial(self, directory: Path, name: str) -> AdapterRecord:
        """
        Validate and probe an adapter directory that is not registered; change nothing.

        For installers that must know a new adapter works before making it visible: it is
        checked as a scan would check it, copied into a free slot and probed; then the slot is
        freed. Every step runs in slices that fit the idle gaps between ticks (one hash block,
        one tensor, a few megabytes of copy, the probe forward), so call it from a background
        thread. Pass the record to :meth:`add` after renaming the directory into place, so its
        weights are not read again. Raise AdapterRejected or ProbeFailed.
        """
        record, tensors = self._registry.validator.validate(name, Path(directory),
                                                            self.idle_slice)
        self._wrap_targets([record], self.idle_slice)
        with self._state:
            index = self._slots.reserve(TRIAL_SLOT + name, self._selector.active).index
            self._identities[index] = record.identity
        try:
            self._copy_into(index, record, lambda m, which: tensors[_key(record, m, which)],
                            background=True)
            self._pacer.wait_for_forward()
            with self._forward_lock:
                self._probe(index, record)
        finally:
            with self._state:
                self._slots.release(index)
                self._state.notify_all()
        return record

    def idle_slice(self, kind: str, amount: float) -> ContextManager[None]:
        """
        Return a context that enters when ``amount`` of ``kind`` work fits in an idle gap.

        For background work beside the control loop (an installer writing a bundle's files):
        cut it into small slices and announce each with its amount, bytes for copies and
        hashes; the throughput of each kind is learned (see :mod:`gap_slices`). Never call
        it from the thread that ticks.
        """
        return self._pacer.in_gap(kind, amount)

    def _probe_plan(self, record: AdapterRecord):
        planned = manifest_probe(record.files)
        if planned is not None:
            return planned
        args, kwargs = self._probe_inputs.get()
        return args, kwargs, None, 0.0

    def _run_base(self, *inputs) -> Any:
        """Run the base model alone on (args, kwargs): how probe inputs are tried."""
        args, kwargs = inputs
        with self._forward_lock:
            saved = self._selector.active
            self._selector.active = EMPTY
            try:
                with torch.inference_mode():
                    return self.model(*args, **kwargs)
            finally:
                self._selector.active = saved

    # -------------------------------------------------------------------------- background
    def _run_job(self, job: LoadJob) -> None:
        """
        Carry out one background job (called on the load worker's thread).

        A job is queued during a tick (the decision that asks for it comes with the tick), and
        the Python that starts it (choosing and reserving a slot, mapping the file) would run
        beside the forward and take the GIL from it: it waits for a gap that also fits the
        planning of the copies, which follows it.
        """
        self._pacer.wait_for_gap('plan', len(self._layers))
        try:
            if job.vet:
                self._vet(job.name)
            elif job.to_slot:
                index = self.load_to_slot(job.name, pin=True, prefetch=job.prefetch,
                                          evict=job.evict, background=True)
                try:
                    self.probe_when_idle(index, job.name)
                finally:
                    self._unpin(index)
            else:
                self.load_to_host(job.name, background=True)
        except AdapterError as error:
            self.metrics.count('prefetch_failures' if job.prefetch else 'request_failures')
            if not job.prefetch:
                with self._state:
                    if self._pending is not None and self._pending.name == job.name:
                        self._pending.error = str(error)

    @property
    def worker(self) -> LoadWorker:
        """Return the background loader (the prefetcher retargets it)."""
        return self._worker

    def metrics_dict(self) -> Dict[str, Any]:
        """Return metrics: counters, latencies (us), tier contents and bytes."""
        out = self.metrics.as_dict()
        with self._state:
            resident = self._slots.resident()
        out.update({
            'active': self._active or '',
            'resident': ','.join(resident),
            'host_cached': ','.join(self._host.names()),
            'bytes_resident': sum(layer.slot_bytes() for layer in self._layers.values())
            * len(self._slots.slots),
            'bytes_host': self._host.nbytes(),
            'bytes_disk': sum(r.identity[0] for r in self._registry.records()),
            'host_hits': self._host.hits,
            'host_misses': self._host.misses,
            'adapters': len(self._registry.records()),
            'rejections': len(self._registry.rejections()),
        })
        return out

    def close(self) -> None:
        """Stop the background loader."""
        self._worker.stop()


def _probe_key(record: AdapterRecord, identity: Optional[tuple]) -> tuple:
    """Return what a probe result depends on besides the frozen base: the slot's file, probe."""
    probe = record.files.manifest.probe if record.files.manifest else None
    probe_file = None
    if isinstance(probe, dict) and isinstance(probe.get('file'), str):
        try:
            probe_file = file_identity(record.files.directory / probe['file'])
        except OSError:
            probe_file = 'missing'
    return str(record.files.directory), identity, repr(probe), probe_file


def _split_rows(pairs: List[Tuple[torch.Tensor, Optional[torch.Tensor]]],
                grain: Optional[int]) -> List[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """
    Cut ``(target, source)`` pairs (source None: a zero-fill) into pieces of rows.

    With ``grain`` (elements), to at most GRAIN elements, which torch copies on this thread:
    a larger copy is split over torch's intra-op threads, and on a busy machine the calling
    thread spins until the others are scheduled (a 0.3 ms load of a small conv adapter took
    15 ms, 7 ms of CPU, with 2 threads at load ~8; 0.3 ms with one). One thread copies an
    adapter at memory speed, as ``safetensors.load_file`` reads it. Without, to at most
    CHUNK_BYTES, the size of one background slice. A piece is never smaller than one row.
    """
    pieces = []
    for target, source in pairs:
        limit = grain or max(1, CHUNK_BYTES // target.element_size())
        if (target.numel() > limit and target.is_contiguous()
                and (source is None or source.is_contiguous())):
            target = target.view(-1)
            source = None if source is None else source.reshape(-1)
        if target.numel() <= limit or target.dim() == 0 or target.shape[0] < 2:
            pieces.append((target, source))
            continue
        rows = max(1, limit * target.shape[0] // target.numel())
        sources = [None] * -(-target.shape[0] // rows) if source is None else source.split(rows)
        pieces.extend(zip(target.split(rows), sources))
    return pieces


def _on_this_thread(pairs: List[Tuple[torch.Tensor, torch.Tensor]]
                    ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """
    Return copies that torch runs on the calling thread alone.

    With more than one intra-op thread, torch splits a copy larger than GRAIN over them, so the
    pairs are cut to GRAIN first (see :func:`_split_rows`). With one, every copy already runs
    on this thread, and cutting a 50 MB adapter into 128 KB pieces cost about 2.5 ms of Python
    per load (a fifth of the loader's CPU), all of it holding the GIL.
    """
    return _split_rows(pairs, GRAIN) if torch.get_num_threads() > 1 else pairs


def _copy_pairs(pairs: List[Tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Copy every source into its target in one batched call (no-op for none)."""
    if pairs:
        torch._foreach_copy_([target for target, _ in pairs], [source for _, source in pairs])


def _key(record: AdapterRecord, module: str, which: int) -> str:
    plan = record.plan.modules[module]
    return plan.a_key if which == 0 else plan.b_key
