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
The inference node's ``inference_backend: serve`` option: its parameters, offload and health.

Kept out of the node so the node only asks three things: the backend for this tick
(:func:`make_offload`), the step through it, and its diagnostics (:func:`offload_diagnostics`).
With ``inference_backend: local`` (the default) nothing here runs and the node is as before.
"""

from typing import Any, Dict, Mapping, Optional, Tuple

from adapter_switcher.nodes.diagnostics import ERROR
from adapter_switcher.nodes.diagnostics import OK
from adapter_switcher.nodes.diagnostics import WARN
from adapter_switcher.nodes.params import ParamSpec
from adapter_switcher.nodes.runner import StartupError

BACKENDS = ('local', 'serve')
FALLBACKS = ('local', 'stop')

SERVE_PARAMETERS = (
    ParamSpec('inference_backend', 'local',
              "Where the forward runs: 'local' (on board) or 'serve' (the policy server at "
              'serve_url; docs/serve.md).', read_only=True, constraints='local | serve'),
    ParamSpec('serve_url', 'http://127.0.0.1:8000/policy',
              "The policy server application's address (inference_backend: serve).",
              read_only=True),
    ParamSpec('serve_timeout_s', 0.2,
              'A tick whose server answer takes longer than this falls back (or stops).',
              read_only=True, value_range=(0.005, 10.0)),
    ParamSpec('serve_fallback', 'local',
              "When the server fails: 'local' runs the tick on board; 'stop' publishes zero "
              'velocity and reports ERROR, as a sensor timeout does.', read_only=True,
              constraints='local | stop'),
    ParamSpec('serve_retry_s', 1.0,
              'After a server failure, ticks use the fallback this long before the server is '
              'tried again.', read_only=True, value_range=(0.0, 600.0)),
)


def make_offload(params: Mapping[str, Any]):
    """Return the :class:`Offload` the parameters ask for, or None for on-board inference."""
    backend, fallback = params['inference_backend'], params['serve_fallback']
    if backend not in BACKENDS:
        raise StartupError(f'inference_backend {backend!r} must be one of {BACKENDS}')
    if fallback not in FALLBACKS:
        raise StartupError(f'serve_fallback {fallback!r} must be one of {FALLBACKS}')
    if backend == 'local':
        return None
    from adapter_switcher.serve.offload import Offload
    try:
        return Offload(params['serve_url'], params['serve_timeout_s'],
                       fallback_local=fallback == 'local', retry_s=params['serve_retry_s'])
    except ValueError as error:
        raise StartupError(f'serve_url: {error}') from None


def offload_diagnostics(offload) -> Tuple[Optional[Tuple[int, str]], Dict[str, Any]]:
    """
    Return ``(level_and_message or None, values)`` for the node's /diagnostics status.

    ERROR while ticks are stopped for want of a server, WARN while they run on board instead.
    """
    if offload is None:
        return None, {'backend': 'local'}
    from adapter_switcher.serve.offload import LOCAL
    from adapter_switcher.serve.offload import STOPPED
    status = offload.status()
    values = {'backend': 'serve', 'serve.source': status.source, 'serve.served': status.served,
              'serve.local': status.local, 'serve.stopped': status.stopped,
              'serve.warmed': status.warmed, 'serve.replica': status.replica,
              'serve.last_error': status.last_error}
    if status.source == STOPPED:
        return (ERROR, f'policy server unavailable: stopped ({status.last_error})'), values
    if status.source == LOCAL:
        return (WARN, f'policy server unavailable: running on board ({status.last_error})'), values
    return (OK, ''), values
