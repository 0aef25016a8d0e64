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
A single-node Ray cluster running the policy server from a Serve config file, then stopped.

``serve run config/serve.yaml`` is the Ray way; :class:`LocalServe` does the same from Python
with small, explicit resources (CPUs, a small object store, no dashboard), on the loopback
address by default, and always shuts Serve and Ray down again: for ``adapter-switcher serve``,
the tests and the benchmark. The config file is checked with Serve's own schema, so what runs
here is what ``serve deploy`` would run on a cluster.

The processes of the local cluster get :data:`SERVE_ENV`: Serve's per-request work without a
thread hop, in the replica (its request handlers on its main event loop; the policy server never
blocks that loop, its forwards run on the engine thread) and in the HTTP proxy (routing on its
main loop). bench/serve.py measured less of Serve's CPU per request with them (docs/serve.md).
And the HTTP proxy gets as long to come up as ``serve.start`` waits for it (60 s): with Serve's
5 s, on a machine whose cores are busy the controller killed a proxy still starting, and
``serve.start`` failed.
"""

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import os
from pathlib import Path
from typing import Any, Dict, Optional

from adapter_switcher.nodes.resolve import resolve_path
from adapter_switcher.serve.app import build_app
from adapter_switcher.serve.app import DEPLOYMENT

import ray
from ray import serve
from ray.serve.schema import ServeDeploySchema
import yaml

DEFAULT_CONFIG = 'config/serve.yaml'
LOOPBACK = '127.0.0.1'
# Set for the cluster's processes (they inherit the environment); values already set win.
SERVE_ENV = {'RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD': '0',
             'RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP': '0',
             'RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S': '60'}


@dataclass(frozen=True)
class ServeConfig:
    """The one application of a Serve config file, as this package deploys it."""

    app_name: str
    route_prefix: str
    args: Dict[str, Any]
    deployment_options: Dict[str, Any] = field(default_factory=dict)
    host: str = LOOPBACK
    port: int = 8000
    # The file's top-level logging_config: Serve's own components (the HTTP proxy, the
    # controller); the replica's is in deployment_options.
    logging_config: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str = DEFAULT_CONFIG) -> 'ServeConfig':
        """Read and check a Serve config file (relative paths: the package share directory)."""
        resolved = resolve_path(path)
        try:
            data = yaml.safe_load(Path(resolved).read_text())
            schema = ServeDeploySchema.model_validate(data)
        except (OSError, yaml.YAMLError, ValueError) as error:
            raise ValueError(f'Serve config {resolved}: {error}') from None
        if len(schema.applications) != 1:
            raise ValueError(f'Serve config {resolved}: expected one application, found '
                             f'{len(schema.applications)}')
        app = schema.applications[0]
        options = {}
        for deployment in app.deployments:
            if deployment.name == DEPLOYMENT:
                options = deployment.model_dump(exclude_unset=True, exclude={'name'})
        http = schema.http_options
        logging = (schema.logging_config.model_dump(exclude_unset=True)
                   if schema.logging_config else {})
        return cls(app.name, app.route_prefix or '/', dict(app.args or {}), options,
                   http.host or LOOPBACK, http.port, logging)

    def with_overrides(self, args: Optional[Dict[str, Any]] = None,
                       **deployment_options) -> 'ServeConfig':
        """Return a copy with some server arguments and deployment options replaced."""
        return replace(self, args={**self.args, **(args or {})},
                       deployment_options={**self.deployment_options, **deployment_options})


class LocalServe:
    """Start Ray (small, local) and the policy server; stop both on exit, whatever happened."""

    def __init__(self, config: ServeConfig, num_cpus: int = 2, object_store_mb: int = 96,
                 host: Optional[str] = None, port: Optional[int] = None):
        self.config = config
        self.num_cpus = num_cpus
        self.object_store_mb = object_store_mb
        self.host = host or config.host
        self.port = config.port if port is None else port
        self._started = False
        self._saved_env: Dict[str, Optional[str]] = {}

    @property
    def url(self) -> str:
        """Return the application's base URL, for :class:`PolicyClient`."""
        return self.url_for(self.config)

    def url_for(self, config: ServeConfig) -> str:
        """Return the base URL of an application deployed on this cluster."""
        return f'http://{self.host}:{self.port}{config.route_prefix.rstrip("/")}'

    def start(self) -> 'LocalServe':
        """Start the cluster and deploy; on any failure shut down what started and raise."""
        self._saved_env = {name: os.environ.get(name) for name in SERVE_ENV}
        for name, value in SERVE_ENV.items():
            os.environ.setdefault(name, value)
        self._started = True
        try:
            ray.init(num_cpus=self.num_cpus, object_store_memory=self.object_store_mb << 20,
                     include_dashboard=False, log_to_driver=False)
            serve.start(http_options={'host': self.host, 'port': self.port},
                        logging_config=self.config.logging_config or None)
            self.deploy(self.config)
        except BaseException:
            self.stop()
            raise
        return self

    def deploy(self, config: ServeConfig) -> str:
        """Deploy one more application (its own name and prefix) and return its URL."""
        serve.run(build_app(config.args, config.deployment_options),
                  name=config.app_name, route_prefix=config.route_prefix)
        return self.url_for(config)

    def stop(self) -> None:
        """Shut Serve and Ray down (idempotent)."""
        if not self._started:
            return
        self._started = False
        try:
            if ray.is_initialized():
                serve.shutdown()
        finally:
            ray.shutdown()
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def __enter__(self) -> 'LocalServe':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
