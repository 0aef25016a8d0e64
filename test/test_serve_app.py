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
The policy server on a real local Ray cluster: outputs equal PEFT's, adapters stay resident.

One module-scoped cluster (2 replicas, small resources, loopback, always shut down) serves
several client threads sending interleaved requests for five adapters and base-only rows. Every
output is checked against ``PeftModel.from_pretrained`` on the same input; every response says
which replica served it and whether the adapter was already resident there, and each replica
counts its loads. A second application on the same cluster, with fewer slots per replica than
adapters, shows Serve's multiplexing at work: repeated ids go to replicas that already hold
them, so loads per id are bounded by the replicas, not by the requests (and the same requests
without the routing header reload again and again). Two versions of one adapter are served by
their ``name@version`` references.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
import copy
import dataclasses
import random
import socket
import time

from adapter_switcher.core.adapter_files import write_manifest
from adapter_switcher.demo.policy_model import build_policy
from adapter_switcher.demo.policy_model import OBS_DIM
from adapter_switcher.serve.client import PolicyClient
from adapter_switcher.serve.client import ServeError
from adapter_switcher.serve.local import LocalServe
from adapter_switcher.serve.local import ServeConfig
from adapter_switcher.serve.wire import act_body
from adapter_switcher.serve.wire import MODEL_ID_HEADER
from lora_fixtures import peft_reference
from lora_fixtures import write_adapter
import pytest
from ray import serve
import requests
import torch

TOLERANCE = 1e-5
WARM_LEAD_S = 1.0  # how far ahead of a switch the robot sends its prefetch hint, at least
ADAPTERS = {
    'nav_r8': {'r': 8, 'lora_alpha': 16, 'target_modules': ['fc1', 'fc2', 'head']},
    'haz_r4': {'r': 4, 'lora_alpha': 32, 'target_modules': ['fc1', 'fc2', 'head']},
    'rs_r16': {'r': 16, 'lora_alpha': 8, 'use_rslora': True, 'target_modules': ['fc1', 'head']},
    'head_r2': {'r': 2, 'lora_alpha': 4, 'target_modules': ['head']},
    'mlp_r6': {'r': 6, 'lora_alpha': 6, 'target_modules': ['fc2']},
}
CLIENTS = 6
REQUESTS_PER_CLIENT = 24
REPLICAS = 2
# Two versions of one adapter, asked for as name@version.
VERSIONS = ('1.0.0', '2.0.0')
# Asked for by the warm test alone, so that no replica holds it before the hint.
WARM_ONLY = 'warm_r3'
# Each replica has room for every adapter, so when Serve's router falls back to another replica
# (under load it may), that replica loads the adapter once and keeps it: never a reload.
SLOTS = len(ADAPTERS) + len(VERSIONS) + 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp('served_adapters')
    base = build_policy()
    dirs = {name: write_adapter(base, root / name, seed=200 + i, **config)
            for i, (name, config) in enumerate(sorted(ADAPTERS.items()))}
    for index, version in enumerate(VERSIONS):
        dirs[f'pinned@{version}'] = write_adapter(
            base, root / f'pinned@{version}', seed=250 + index, r=4, lora_alpha=8,
            target_modules=['fc1', 'fc2', 'head'])
        write_manifest(dirs[f'pinned@{version}'], name='pinned', version=version)
    dirs[WARM_ONLY] = write_adapter(base, root / WARM_ONLY, seed=260, r=3, lora_alpha=6,
                                    target_modules=['fc1', 'head'])
    references = {name: peft_reference(base, path) for name, path in dirs.items()}
    references[None] = copy.deepcopy(base)
    config = ServeConfig.from_file().with_overrides(
        {'model_weights': '', 'adapters_dirs': [str(root)], 'num_slots': SLOTS},
        num_replicas=REPLICAS, ray_actor_options={'num_cpus': 0.5},
        # A generous batch window: concurrent rows of different adapters meet in one batch.
        user_config={'max_batch_size': 8, 'batch_wait_timeout_s': 0.05})
    with LocalServe(config, num_cpus=2, port=free_port()) as server:
        yield server, references


def reference_output(references, adapter, inputs):
    with torch.inference_mode():
        return references[adapter](inputs)


def client_requests(index):
    """One robot's interleaved sequence: every adapter and base-only rows, 1 or 2 rows each."""
    rng = random.Random(index)
    names = sorted(ADAPTERS) + [None]
    generator = torch.Generator().manual_seed(index)
    return [(names[(index + k) % len(names)] if k % 3 else rng.choice(names),
             torch.rand(rng.choice((1, 2)), OBS_DIM, generator=generator))
            for k in range(REQUESTS_PER_CLIENT)]


def test_interleaved_fleet_matches_peft_and_keeps_adapters_resident(fleet):
    server, references = fleet

    def run_client(index):
        client = PolicyClient(server.url, timeout_s=60.0)
        try:
            return [(adapter, inputs, client.act(inputs, adapter))
                    for adapter, inputs in client_requests(index)]
        finally:
            client.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        served = [item for items in pool.map(run_client, range(CLIENTS)) for item in items]

    assert len(served) == CLIENTS * REQUESTS_PER_CLIENT
    for adapter, inputs, answer in served:
        assert answer.adapter == adapter
        diff = (answer.output - reference_output(references, adapter, inputs)).abs().max()
        assert diff.item() <= TOLERANCE, f'{adapter}: max abs diff {diff.item()} vs PEFT'

    # Cross-adapter batching: rows of different adapters shared one forward.
    assert max(answer.batch_adapters for _, _, answer in served) >= 2

    # Multiplexing: each (replica, adapter) is loaded once, and once a client has been served
    # an adapter by a replica, every later request of that client for it that lands on that
    # replica finds it resident. No reload per request.
    holders = {}
    for index in range(CLIENTS):
        seen = set()
        for adapter, _, answer in served[index * REQUESTS_PER_CLIENT:
                                         (index + 1) * REQUESTS_PER_CLIENT]:
            if adapter is None:
                continue
            if (answer.replica, adapter) in seen:
                assert answer.resident, f'{adapter} reloaded on {answer.replica}'
            seen.add((answer.replica, adapter))
            holders.setdefault(adapter, set()).add(answer.replica)
    assert set(holders) == set(ADAPTERS)
    pairs = sum(len(replicas) for replicas in holders.values())
    # Here every replica has a slot for every adapter, so whichever replicas Serve's router
    # picked (it may fall back to another under load), none may ever load an adapter twice;
    # the affinity itself is checked under slot pressure below.
    requests = sum(adapter is not None for adapter, _, _ in served)
    assert requests >= 10 * pairs, 'the test should repeat every id many times'
    stats = stats_by_replica(server)
    for adapter, replicas in holders.items():
        for replica in replicas:
            assert stats[replica]['loads'].get(adapter) == 1, (adapter, replica, stats)


def stats_by_replica(server, url=None, deadline_s=60.0):
    """
    Ask until both replicas have answered ``stats`` (Serve picks the replica).

    Asked one at a time, every request finds both replicas idle, and Serve's router sent all
    200 of one CI run to one of them (perhaps the other's queue-length probe answered late).
    So each round asks from several clients at once: a replica busy with one
    request has the longer queue, and the router sends the next to the other. Bounded by
    ``deadline_s``.
    """
    clients = [PolicyClient(url or server.url, timeout_s=60.0) for _ in range(2 * REPLICAS)]
    found = {}
    deadline = time.monotonic() + deadline_s
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            while len(found) < REPLICAS and time.monotonic() < deadline:
                for stats in pool.map(lambda client: client.stats(), clients):
                    found[stats['replica']] = stats
                if len(found) < REPLICAS:
                    time.sleep(0.05)
    finally:
        for client in clients:
            client.close()
    assert len(found) == REPLICAS
    return found


# The affinity check: four adapters, two replicas of three slots each. Together the replicas
# hold all four, but neither holds all four: a replica that is sent every adapter evicts one
# for another again and again, so only routing by adapter id keeps the loads bounded.
AFFINITY_ADAPTERS = sorted(ADAPTERS)[:4]
AFFINITY_SLOTS = 3
AFFINITY_CLIENTS = 2
AFFINITY_REQUESTS = 60


def affinity_requests(index):
    """One client's ids: uniformly random over the four, so no routing pattern can mimic LRU."""
    rng = random.Random(1000 + index)
    return [rng.choice(AFFINITY_ADAPTERS) for _ in range(AFFINITY_REQUESTS)]


def send_affinity_requests(url, with_header):
    """Run the clients; return, per adapter id, how many requests found it not resident."""
    inputs = torch.rand(1, OBS_DIM, generator=torch.Generator().manual_seed(5))

    def run_client(index):
        misses, session = Counter(), requests.Session()
        try:
            for adapter in affinity_requests(index):
                headers = {MODEL_ID_HEADER: adapter} if with_header else {}
                reply = session.post(f'{url}/act', json=act_body(inputs, adapter),
                                     headers=headers, timeout=60.0)
                assert reply.status_code == 200, reply.text
                misses[adapter] += not reply.json()['resident']
        finally:
            session.close()
        return misses

    with ThreadPoolExecutor(AFFINITY_CLIENTS) as pool:
        return sum(pool.map(run_client, range(AFFINITY_CLIENTS)), Counter())


def test_repeated_ids_go_to_replicas_that_hold_them(fleet):
    """
    Serve's multiplexing gives replica affinity: loads per id are bounded by the replicas.

    Each id is asked for about 30 times from two concurrent clients. With the multiplexing
    header, each id is loaded at most once per replica (usually once in all), whatever Serve's
    router does when a replica is slow: the bound is the number of replicas, not of requests.
    The same requests without the header (Serve then balances by queue length alone) make the
    replicas evict and reload adapters again and again: that is what the affinity prevents.
    """
    server, _ = fleet
    config = dataclasses.replace(
        server.config.with_overrides({'num_slots': AFFINITY_SLOTS}),
        app_name='affinity', route_prefix='/affinity')
    url = server.deploy(config)
    try:
        client = PolicyClient(url, timeout_s=60.0)
        for adapter in AFFINITY_ADAPTERS:
            client.warm(adapter)
        client.close()
        # Replicas push the ids they hold (every 0.1 s); the router learns them from the
        # controller. Give it time, generously, before the measured requests.
        time.sleep(2.0)
        misses = send_affinity_requests(url, with_header=True)
        stats = stats_by_replica(server, url)
        loads = sum((Counter(s['loads']) for s in stats.values()), Counter())
        asked = Counter(a for i in range(AFFINITY_CLIENTS) for a in affinity_requests(i))
        assert set(loads) == set(AFFINITY_ADAPTERS), stats
        for adapter in AFFINITY_ADAPTERS:
            assert asked[adapter] >= 10 * REPLICAS, 'every id must be repeated many times'
            assert loads[adapter] <= REPLICAS, (
                f'{adapter} was loaded {loads[adapter]} times for {asked[adapter]} requests '
                f'on {REPLICAS} replicas: {stats}')
            assert misses[adapter] <= REPLICAS, (adapter, misses, stats)

        unrouted = send_affinity_requests(url, with_header=False)
        bound = REPLICAS * len(AFFINITY_ADAPTERS)
        assert sum(unrouted.values()) > bound, (
            f'without affinity routing the same requests should reload adapters: {unrouted}')
    finally:
        serve.delete(config.app_name)


def test_refusals_name_the_problem_and_leave_the_server_serving(fleet):
    server, references = fleet
    client = PolicyClient(server.url, timeout_s=60.0)
    inputs = torch.rand(1, OBS_DIM, generator=torch.Generator().manual_seed(9))
    refusals = {
        'no_such': "unknown adapter 'no_such'",
        'nav_r8@9.9': "unknown adapter 'nav_r8@9.9'",
        '../nav_r8': 'invalid adapter name',
    }
    for adapter, message in refusals.items():
        with pytest.raises(ServeError, match=message.replace('.', r'\.')):
            client.act(inputs, adapter)
    with pytest.raises(ServeError, match=r'inputs must be \(rows, 46\)'):
        client.act(torch.zeros(1, 3), 'nav_r8')
    answer = client.act(inputs, 'nav_r8')
    diff = (answer.output - reference_output(references, 'nav_r8', inputs)).abs().max()
    assert diff.item() <= TOLERANCE
    client.close()


def test_warm_loads_the_predicted_adapter_where_it_will_be_served(fleet):
    server, references = fleet
    assert not any(WARM_ONLY in s['resident'] for s in stats_by_replica(server).values())
    client = PolicyClient(server.url, timeout_s=60.0)
    warmed = client.warm(WARM_ONLY)
    assert warmed['resident'] is False and warmed['loads'] == 1
    # A hint comes ahead of the switch. Serve's router learns which replica holds a model id
    # from the replicas' reports (pushed every 0.1 s, then long-polled): a tick sent in the same
    # instant can still go to another replica (seen once in CI), so the robot's lead is modelled.
    time.sleep(WARM_LEAD_S)
    inputs = torch.rand(1, OBS_DIM)
    answers = [client.act(inputs, WARM_ONLY) for _ in range(5)]
    client.close()
    # Only the warmed replica held the adapter, so a resident answer can only have come from it.
    assert all(a.resident for a in answers), [(a.replica, a.resident) for a in answers]
    assert {a.replica for a in answers} == {warmed['replica']}
    diff = (answers[0].output - reference_output(references, WARM_ONLY, inputs)).abs().max()
    assert diff.item() <= TOLERANCE


def test_versions_are_served_by_reference(fleet):
    server, references = fleet
    client = PolicyClient(server.url, timeout_s=60.0)
    inputs = torch.rand(2, OBS_DIM, generator=torch.Generator().manual_seed(11))
    for version in VERSIONS:
        ref = f'pinned@{version}'
        answer = client.act(inputs, ref)
        assert answer.adapter == ref
        diff = (answer.output - reference_output(references, ref, inputs)).abs().max()
        assert diff.item() <= TOLERANCE, f'{ref}: max abs diff {diff.item()} vs PEFT'
    with pytest.raises(ServeError, match="'pinned' has versions 1.0.0, 2.0.0 and none is served"):
        client.act(inputs, 'pinned')
    client.close()
