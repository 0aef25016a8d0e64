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

A dynamic batch may name more distinct adapters than the replica has slots; it is cut, in
arrival order, into groups that each fit, and each group is one ``step_batch`` forward. If a
group fails with an adapter error (a broken adapter failing its probe, say), its rows are run
again adapter by adapter, so only the broken adapter's rows get the error and the other robots
in the batch are served.
"""

from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Union

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
