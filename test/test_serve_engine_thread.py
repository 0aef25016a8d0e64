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
The replica's engine thread and the fleet's node graph, without a cluster.

Batches that queue while a forward runs are merged into one ``step_batch`` forward (never more
than ``max_rows`` rows), each request gets exactly its own rows back and the outputs equal
PEFT's; the fleet gives every robot its own namespace, simulator topics and the server.
"""

import threading

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import EngineConfig
from adapter_switcher.demo.policy_model import build_policy
from adapter_switcher.demo.policy_model import OBS_DIM
from adapter_switcher.serve.batch_runner import BatchRunner
from adapter_switcher.serve.batch_runner import EngineThread
from adapter_switcher.serve.batch_runner import Row
from adapter_switcher.serve.fleet import fleet_node_specs
from adapter_switcher.sim import topics
from lora_fixtures import peft_reference
from lora_fixtures import write_adapter
import pytest
import torch

TARGETS = ['fc1', 'fc2', 'head']


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp('engine_thread')
    base = build_policy()
    dirs = {name: write_adapter(base, root / name, seed=300 + i, r=4, lora_alpha=8,
                                target_modules=TARGETS)
            for i, name in enumerate(('a', 'b', 'c'))}
    references = {name: peft_reference(base, path) for name, path in dirs.items()}
    references[None] = base
    engine = AdapterEngine(build_policy(), [str(root)], EngineConfig(num_slots=2))
    return engine, references


def test_batches_queued_during_a_call_merge_into_capped_forwards(served):
    engine, references = served
    thread = EngineThread(BatchRunner(engine, slot_budget=2), max_rows=4)
    gate = threading.Event()
    try:
        blocker = thread.call(gate.wait)  # holds the engine thread while batches queue up
        generator = torch.Generator().manual_seed(5)
        batches = [[Row(torch.rand(1, OBS_DIM, generator=generator), name)
                    for name in names]
                   for names in (['a', None], ['b'], ['c', 'a'], [None], ['b', 'c', None])]
        futures = [thread.submit(batch) for batch in batches]
        gate.set()
        assert blocker.result(timeout=60) is True
        outcomes = [future.result(timeout=60) for future in futures]
    finally:
        thread.close()
    for batch, results in zip(batches, outcomes):
        assert len(results) == len(batch)
        for row, result in zip(batch, results):
            with torch.inference_mode():
                want = references[row.adapter](row.inputs)
            assert (result.output - want).abs().max().item() <= 1e-5
            assert result.batch_rows <= 4
    # The first two batches (2 + 1 rows) were queued together: one forward; the third (2 more
    # rows) would pass max_rows, so it starts the next.
    assert outcomes[0][0].batch_rows == 3
    # Three forwards of 3 rows each ([a, None] + [b], [c, a] + [None], [b, c, None]), and the
    # thread accounts for them (the replica's stats report these counters).
    assert (thread.forwards, thread.rows) == (3, 9)
    assert thread.forward_cpu_s > 0
    assert max(r.batch_adapters for results in outcomes for r in results) <= 2


def test_fleet_gives_each_robot_its_namespace_topics_and_the_server():
    specs = fleet_node_specs(3, 'http://127.0.0.1:8123/policy', timeout_s=0.4)
    assert len(specs) == 9
    for index in range(3):
        namespace = f'robot_{index}'
        mine = [s for s in specs if s.namespace == namespace]
        assert sorted(s.name for s in mine) == ['context_manager', 'inference_node',
                                                'simulator']
        simulator = next(s for s in mine if s.name == 'simulator')
        assert dict(simulator.remappings)[topics.SCAN] == f'/{namespace}/scan'
        assert dict(simulator.remappings)[topics.CMD_VEL] == f'/{namespace}/cmd_vel'
        inference = next(s for s in mine if s.name == 'inference_node')
        overrides = {k: v for p in inference.parameters if isinstance(p, dict)
                     for k, v in p.items()}
        assert overrides['inference_backend'] == 'serve'
        assert overrides['serve_url'] == 'http://127.0.0.1:8123/policy'
        assert overrides['serve_timeout_s'] == 0.4 and overrides['use_sim_time'] is True
        assert dict(inference.remappings)[topics.CLOCK] == f'/{namespace}/clock'
    with pytest.raises(ValueError, match='at least one robot'):
        fleet_node_specs(0, 'http://127.0.0.1:8123/policy')
