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
The robot's side of the policy server: one HTTP call per tick, bounded by a timeout.

Plain HTTP (``requests``, keep-alive), so a robot needs neither Ray nor a cluster connection:
only the server's address. Every failure is a :class:`ServeError` with one line saying what
happened (unreachable, timed out, or the server's own error message), for the caller to fall
back on.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional

from adapter_switcher.serve.wire import ACT
from adapter_switcher.serve.wire import act_body
from adapter_switcher.serve.wire import MODEL_ID_HEADER
from adapter_switcher.serve.wire import parse_output
from adapter_switcher.serve.wire import STATS
from adapter_switcher.serve.wire import WARM
from adapter_switcher.serve.wire import WireError

import requests
import torch


class ServeError(RuntimeError):
    """The server could not answer: unreachable, too slow, or it refused the request."""


@dataclass(frozen=True)
class Served:
    """An ``act`` answer: the output rows, and which replica served them and how."""

    output: torch.Tensor
    adapter: Optional[str]
    replica: str
    resident: bool
    batch_rows: int
    batch_adapters: int


class PolicyClient:
    """Calls one policy server application at ``url`` (``http://host:port/prefix``)."""

    def __init__(self, url: str, timeout_s: float = 0.2):
        if not url.startswith(('http://', 'https://')):
            raise ValueError(f'server address {url!r} must start with http:// or https://')
        self.url = url.rstrip('/')
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def act(self, inputs: torch.Tensor, adapter: Optional[str]) -> Served:
        """Return the model output for ``inputs`` (batch dim first) with ``adapter``."""
        body = self._post(ACT, act_body(inputs, adapter), adapter)
        try:
            output = parse_output(body)
        except WireError as error:
            raise ServeError(str(error)) from None
        return Served(output, body.get('adapter'), str(body.get('replica', '')),
                      bool(body.get('resident')), int(body.get('batch_rows', 0)),
                      int(body.get('batch_adapters', 0)))

    def warm(self, adapter: str) -> Dict[str, Any]:
        """Ask the replica that will serve ``adapter`` to load it now (a prefetch hint)."""
        return self._post(WARM, {}, adapter)

    def stats(self) -> Dict[str, Any]:
        """Return the stats of the replica that answers (any one of them)."""
        return self._call('GET', STATS, None, None)

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._session.close()

    def _post(self, route: str, body: dict, adapter: Optional[str]) -> Dict[str, Any]:
        return self._call('POST', route, body, adapter)

    def _call(self, method: str, route: str, body: Optional[dict],
              adapter: Optional[str]) -> Dict[str, Any]:
        headers = {MODEL_ID_HEADER: adapter} if adapter else {}
        try:
            reply = self._session.request(method, f'{self.url}/{route}', json=body,
                                          headers=headers, timeout=self.timeout_s)
        except requests.Timeout:
            raise ServeError(f'{self.url} did not answer within {self.timeout_s:g} s') from None
        except requests.RequestException as error:
            raise ServeError(f'{self.url} is unreachable: {type(error).__name__}') from None
        try:
            payload = reply.json()
        except ValueError:
            payload = {'error': reply.text[:200]}
        if reply.status_code != 200:
            message = payload.get('error') if isinstance(payload, dict) else None
            raise ServeError(f'{self.url}/{route} answered {reply.status_code}: '
                             f'{message or reply.text[:200]}')
        return payload
