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
The Ray Serve application: one deployment holding the base model and an AdapterEngine.

Routes under the application's prefix (see :mod:`.wire` for the bodies):

* ``POST act``: one tick. The ``serve_multiplexed_model_id`` header (the adapter id) lets Serve
  route the request to a replica that holds the adapter, and the replica's multiplexed loader
  makes it resident there (its LRU is sized to the slot budget). The row then joins the
  replica's cross-adapter ``@serve.batch``: the adapter id travels in the body, and the row is
  queued from a fresh context, so Serve's batcher does not split the batch per model id (which
  it does for multiplexed requests). One batch is one ``engine.step_batch`` forward.
* ``POST warm``: a prefetch hint. The header names the predicted adapter; Serve routes it like
  a tick, and the replica that will serve that adapter loads it now.
* ``GET stats``: this replica's id, RSS, resident adapters, load counts and the CPU time its
  forwards took.

Python callers inside the cluster (another deployment, a load generator) call :meth:`act` on a
``DeploymentHandle`` with ``.options(multiplexed_model_id=ref)``: the same routing, batching
and answer without the HTTP hop through Serve's proxy.

Health and metrics use Serve's own mechanisms: ``check_health`` runs a base-only forward of the
probe input (a replica that fails it is restarted by Serve), and counters and histograms go
through ``ray.serve.metrics`` to Ray's Prometheus endpoint, beside Serve's built-in multiplexing
and batching metrics.
"""

import asyncio
from collections import Counter
import contextvars
import os
from typing import Any, Dict, Mapping, Optional

from adapter_switcher.core import AdapterError
from adapter_switcher.core import InvalidAdapterName
from adapter_switcher.core import UnknownAdapter
from adapter_switcher.core.names import check_adapter_ref
from adapter_switcher.serve.batch_runner import BatchRunner
from adapter_switcher.serve.batch_runner import EngineThread
from adapter_switcher.serve.batch_runner import Row
from adapter_switcher.serve.settings import build_engine
from adapter_switcher.serve.settings import ServerSettings
from adapter_switcher.serve.wire import ACT
from adapter_switcher.serve.wire import MODEL_ID_HEADER
from adapter_switcher.serve.wire import output_fields
from adapter_switcher.serve.wire import parse_act
from adapter_switcher.serve.wire import STATS
from adapter_switcher.serve.wire import WARM
from adapter_switcher.serve.wire import WireError

from ray import serve
from ray.serve import metrics
from starlette.requests import Request
from starlette.responses import JSONResponse
import torch

DEPLOYMENT = 'AdapterPolicyServer'
BATCH_KEYS = ('max_batch_size', 'batch_wait_timeout_s')
ADAPTERS_PER_BATCH = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64]


class ServerMetrics:
    """The replica's own metrics, exported through Ray's metrics agent."""

    def __init__(self):
        self.rows = metrics.Counter(
            'adapter_switcher_rows', description='Rows served, by adapter and whether it was '
            'resident on arrival.', tag_keys=('adapter', 'resident'))
        self.loads = metrics.Counter(
            'adapter_switcher_adapter_loads', description='Adapters made resident by the '
            'multiplexed loader.', tag_keys=('adapter',))
        self.adapters_per_batch = metrics.Histogram(
            'adapter_switcher_batch_adapters', description='Distinct adapters in one forward.',
            boundaries=ADAPTERS_PER_BATCH)


@serve.deployment(name=DEPLOYMENT, max_ongoing_requests=64, health_check_period_s=10.0,
                  health_check_timeout_s=60.0, ray_actor_options={'num_cpus': 1})
class AdapterPolicyServer:
    """A replica: the base model, the engine, a multiplexed adapter loader and a batcher."""

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = ServerSettings.from_args(settings)
        self.engine, self._probe = build_engine(self.settings)
        # One thread runs forwards and loads in turn, off the event loop, so the loop keeps
        # collecting batches while a forward runs; those queued meanwhile run as one forward.
        self._engine_thread = EngineThread(BatchRunner(self.engine, self.settings.num_slots))
        self._loads: Counter = Counter()
        self._metrics = ServerMetrics()
        self.replica = serve.get_replica_context().replica_id.unique_id

        async def make_resident(ref: str) -> str:
            self.engine.check(ref)
            # One probe row through step_batch: loads the adapter into a slot and probes it
            # there, so a broken adapter fails here, not in a batch of other robots' rows.
            await self._in_engine_thread(
                lambda: self.engine.step_batch(self._probe, adapters=[ref]))
            self._loads[ref] += 1
            self._metrics.loads.inc(tags={'adapter': ref})
            return ref

        # Serve's LRU over the adapters this replica holds, sized to the slot budget; the ids
        # it holds are what Serve's router uses for affinity.
        self._multiplexed = serve.multiplexed(
            max_num_models_per_replica=self.settings.num_slots)(make_resident)

    def reconfigure(self, user_config: Mapping[str, Any]) -> None:
        """Apply the batching settings of the deployment's ``user_config``."""
        unknown = sorted(set(user_config) - set(BATCH_KEYS))
        if unknown:
            raise ValueError(f'unknown user_config key(s) {unknown}; known: {list(BATCH_KEYS)}')
        if 'max_batch_size' in user_config:
            self._batch.set_max_batch_size(int(user_config['max_batch_size']))
            self._engine_thread.max_rows = int(user_config['max_batch_size'])
        if 'batch_wait_timeout_s' in user_config:
            self._batch.set_batch_wait_timeout_s(float(user_config['batch_wait_timeout_s']))

    # ------------------------------------------------------------------------------- routes
    async def __call__(self, request: Request) -> JSONResponse:
        """Dispatch ``act``, ``warm`` and ``stats``; errors become one-line JSON messages."""
        route = request.url.path.rstrip('/').rpartition('/')[2]
        try:
            if route == ACT and request.method == 'POST':
                return JSONResponse(await self.act(await _json(request)))
            if route == WARM and request.method == 'POST':
                return JSONResponse(await self.warm(serve.get_multiplexed_model_id()))
            if route == STATS and request.method == 'GET':
                return JSONResponse(self.stats())
        except (WireError, InvalidAdapterName) as error:
            return _error(400, error)
        except UnknownAdapter as error:
            return _error(404, error)
        except AdapterError as error:
            return _error(409, error)
        return _error(404, f'no route {request.method} {route!r}: use POST {ACT}, POST {WARM} '
                           f'or GET {STATS}')

    async def act(self, body: Any) -> Dict[str, Any]:
        """
        Run one request's rows in the next batch; return its output and how it was served.

        The multiplexed model id (the HTTP header, or a handle's ``multiplexed_model_id``)
        routed the request here; it must agree with the body's adapter when both are given.
        """
        header_id = serve.get_multiplexed_model_id()
        request = parse_act(body, header_id)
        self._check_inputs(request.inputs)
        ref, resident = request.adapter, True
        if ref is not None:
            self.engine.check(ref)
            resident = self.engine.is_ready(ref)
            if header_id:
                await self._multiplexed(ref)
        self._metrics.rows.inc(request.inputs.shape[0], tags={
            'adapter': ref or '', 'resident': str(resident)})
        # A fresh context: the batcher sees no multiplexed model id, so rows of every adapter
        # share one batch (it would split a batch per model id otherwise).
        task = contextvars.Context().run(asyncio.get_running_loop().create_task,
                                         self._batch(Row(request.inputs, ref)))
        outcome = await task
        if isinstance(outcome, AdapterError):
            raise outcome
        response = output_fields(outcome.output)
        response.update({
            'adapter': ref, 'replica': self.replica, 'resident': resident,
            'loads': self._loads[ref] if ref else 0,
            'batch_rows': outcome.batch_rows, 'batch_adapters': outcome.batch_adapters,
        })
        return response

    async def warm(self, model_id: str) -> Dict[str, Any]:
        """Make the adapter resident on this replica, the one Serve routes its ticks to."""
        if not model_id:
            raise WireError(f'warm needs the adapter id in the {MODEL_ID_HEADER} header')
        check_adapter_ref(model_id)
        self.engine.check(model_id)
        resident = self.engine.is_ready(model_id)
        await self._multiplexed(model_id)
        return {'adapter': model_id, 'replica': self.replica, 'resident': resident,
                'loads': self._loads[model_id]}

    def stats(self) -> Dict[str, Any]:
        """Return this replica's id, process, memory, resident adapters, loads and forwards."""
        info = self.engine.metrics_dict()
        return {'replica': self.replica, 'pid': os.getpid(), 'rss_bytes': _rss_bytes(),
                'resident': [n for n in info['resident'].split(',') if n],
                'loads': dict(self._loads), 'forwards': self._engine_thread.forwards,
                'forward_rows': self._engine_thread.rows,
                'forward_cpu_s': self._engine_thread.forward_cpu_s,
                'engine': {k: info[k] for k in ('slot_hits', 'slot_misses', 'bytes_resident',
                                                'adapters', 'rejections') if k in info}}

    async def check_health(self) -> None:
        """Check health for Serve: a base-only forward of the probe input must be finite."""
        outcome = (await asyncio.wrap_future(
            self._engine_thread.submit([Row(self._probe, None)])))[0]
        if isinstance(outcome, Exception):
            raise RuntimeError(f'health forward failed: {outcome}')
        if not bool(torch.isfinite(outcome.output).all()):
            raise RuntimeError('health forward gave non-finite outputs')

    # ---------------------------------------------------------------------------- batching
    # Several batches may be outstanding: the engine thread merges those that queue up.
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.002, max_concurrent_batches=4)
    async def _batch(self, rows):
        outcomes = await asyncio.wrap_future(self._engine_thread.submit(rows))
        adapters = {r.adapter for r in rows if r.adapter is not None}
        self._metrics.adapters_per_batch.observe(len(adapters))
        return outcomes

    # ------------------------------------------------------------------------------ helpers
    def _check_inputs(self, inputs: torch.Tensor) -> None:
        want = tuple(self._probe.shape[1:])
        if tuple(inputs.shape[1:]) != want or inputs.dtype != self._probe.dtype:
            raise WireError(f'inputs must be (rows, {", ".join(map(str, want))}) '
                            f'{self._probe.dtype}, got {tuple(inputs.shape)} {inputs.dtype}')

    async def _in_engine_thread(self, function):
        return await asyncio.wrap_future(self._engine_thread.call(function))

    def __del__(self):
        engine_thread = getattr(self, '_engine_thread', None)
        if engine_thread is not None:
            engine_thread.close()


def build_app(args: Mapping[str, Any], deployment_options: Optional[Mapping] = None):
    """
    Build the application: the import path Serve configs name (``...app:build_app``).

    ``args`` are the :class:`ServerSettings`, checked here so a bad config fails at deploy
    time; ``deployment_options`` (replicas, user_config, ...) are for callers that deploy from
    Python; a Serve config file sets them in its ``deployments:`` section instead.
    """
    settings = dict(args)
    ServerSettings.from_args(settings)
    deployment = AdapterPolicyServer
    if deployment_options:
        deployment = deployment.options(**deployment_options)
    return deployment.bind(settings)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as error:
        raise WireError(f'the body is not JSON: {error}') from None


def _error(status: int, error) -> JSONResponse:
    return JSONResponse({'error': str(error)}, status_code=status)


def _rss_bytes() -> int:
    """Return this process's resident set size (Linux /proc; 0 where unavailable)."""
    try:
        with open('/proc/self/statm') as statm:
            return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return 0
