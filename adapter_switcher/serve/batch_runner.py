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
Rows from many robots -> ``engine.step_batch`` forwards, within the replica's slot budget.

Serve's ``@serve.batch`` forms a batch every ``batch_wait_timeout_s`` whether or not the previous
one has finished, so while one forward runs, several small batches can be waiting. The
:class:`EngineThread` runs every engine call on one thread and merges all batches queued by the
time it is free into one forward of at most ``max_rows`` rows (the deployment's
``max_batch_size``): the batch grows with the load instead of being cut into timeout-sized
pieces.

A dynamic batch may name more distinct adapters than the replica has slots; it is cut, in
arrival order, into groups that each fit, and each group is one ``step_batch`` forward. If a
group fails with an adapter error (a broken adapter failing its probe, say), its rows are run
again adapter by adapter, so only the broken adapter's rows get the error and the other robots
in the batch are served.
"""

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
import threading
import time
from typing import Any, Callable, Deque, Iterator, List, Optional, Sequence, Tuple, Union

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError

import torch


@dataclass(frozen=True)
class Row:
    """One request's input rows (batch dimension first) and its adapter (None: the base)."""

    inputs: torch.Tensor
    adapter: Optional[str]


@dataclass(frozen=True)
class RowResult:
    """What one request gets back: its output rows and the forward it was part of."""

    output: torch.Tensor
    batch_rows: int
    batch_adapters: int


Outcome = Union[RowResult, AdapterError]


def slot_groups(rows: Sequence[Row], budget: int) -> Iterator[List[Row]]:
    """Cut ``rows`` in order into groups naming at most ``budget`` distinct adapters each."""
    group: List[Row] = []
    names: set = set()
    for row in rows:
        new = row.adapter is not None and row.adapter not in names
        if new and len(names) == budget:
            yield group
            group, names = [], set()
        if row.adapter is not None:
            names.add(row.adapter)
        group.append(row)
    if group:
        yield group


class BatchRunner:
    """Runs request rows through the engine as few mixed-adapter forwards as the slots allow."""

    def __init__(self, engine: AdapterEngine, slot_budget: int):
        self.engine = engine
        self.slot_budget = max(1, slot_budget)

    def run(self, rows: Sequence[Row]) -> List[Outcome]:
        """Return one outcome per row, in order: its output, or the adapter error it hit."""
        outcomes: List[Outcome] = []
        for group in slot_groups(rows, self.slot_budget):
            try:
                outcomes.extend(self._forward(group))
            except AdapterError:
                outcomes.extend(self._per_adapter(group))
        return outcomes

    def _per_adapter(self, group: List[Row]) -> List[Outcome]:
        """Run a failed group again one adapter at a time; each row gets its own outcome."""
        by_adapter = {}
        for row in group:
            by_adapter.setdefault(row.adapter, []).append(row)
        results = {}
        for rows in by_adapter.values():
            try:
                results.update(zip(map(id, rows), self._forward(rows)))
            except AdapterError as error:
                results.update((id(row), error) for row in rows)
        return [results[id(row)] for row in group]

    def _forward(self, group: List[Row]) -> List[RowResult]:
        inputs = torch.cat([row.inputs for row in group])
        adapters = [row.adapter for row in group for _ in range(row.inputs.shape[0])]
        output = self.engine.step_batch(inputs, adapters=adapters).output
        distinct = len({a for a in adapters if a is not None})
        results, start = [], 0
        for row in group:
            end = start + row.inputs.shape[0]
            results.append(RowResult(output[start:end], len(adapters), distinct))
            start = end
        return results


class EngineThread:
    """
    The one thread that calls the engine; queued batches are merged into one forward.

    It counts its forwards, their rows and the CPU time they took (this thread's own clock),
    so the replica can say how much of its CPU the model itself costs.
    """

    def __init__(self, runner: BatchRunner, max_rows: int = 16):
        self.runner = runner
        self.max_rows = max_rows
        self.forwards = 0
        self.rows = 0
        self.forward_cpu_s = 0.0
        self._queue: Deque[Tuple[str, Any, Future]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name='adapter-engine', daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[Row]) -> Future:
        """Queue rows for the next forward; the future gets their outcomes, in order."""
        return self._put('rows', list(rows))

    def call(self, function: Callable[[], Any]) -> Future:
        """Run ``function()`` on the engine thread, between forwards (loads, health checks)."""
        return self._put('call', function)

    def _put(self, kind: str, payload: Any) -> Future:
        future: Future = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError('the engine thread is stopped')
            self._queue.append((kind, payload, future))
            self._ready.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                kind, payload, future = self._queue.popleft()
                merged = [(payload, future)] if kind == 'rows' else []
                rows = len(payload) if kind == 'rows' else 0
                while (kind == 'rows' and self._queue and self._queue[0][0] == 'rows'
                       and rows + len(self._queue[0][1]) <= self.max_rows):
                    _, more, more_future = self._queue.popleft()
                    merged.append((more, more_future))
                    rows += len(more)
            if kind == 'call':
                _run(future, payload)
            else:
                self._forward(merged)

    def _forward(self, merged: List[Tuple[List[Row], Future]]) -> None:
        rows = [row for batch, _ in merged for row in batch]
        began = time.thread_time()
        try:
            outcomes = self.runner.run(rows)
        except Exception as error:  # noqa: B902 - every waiting request must get the error
            for _, future in merged:
                future.set_exception(error)
            return
        finally:
            self.forward_cpu_s += time.thread_time() - began
            self.forwards += 1
            self.rows += sum(row.inputs.shape[0] for row in rows)
        start = 0
        for batch, future in merged:
            future.set_result(outcomes[start:start + len(batch)])
            start += len(batch)

    def close(self) -> None:
        """Stop after the call in progress; what is still queued fails."""
        with self._ready:
            self._closed = True
            pending, self._queue = list(self._queue), deque()
            self._ready.notify()
        for _, _, future in pending:
            future.set_exception(RuntimeError('the engine thread stopped'))
        self._thread.join(timeout=30.0)


def _run(future: Future, function: Callable[[], Any]) -> None:
    try:
        future.set_result(function())
    except Exception as error:  # noqa: B902 - handed to the caller through the future
        future.set_exception(error)
