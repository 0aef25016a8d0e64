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

"""``adapter-switcher serve`` (the policy server, until Ctrl-C) and ``serve-fleet``."""

import argparse
import signal
import sys
import threading


def register(subparsers) -> None:
    """Add the ``serve`` subcommand to the ``adapter-switcher`` command line."""
    parser = subparsers.add_parser(
        'serve', help='serve the adapter engine to a fleet with Ray Serve (single node)',
        description='Start a local Ray cluster with small resources and deploy the policy '
                    'server from a Serve config file (the one `serve run` / `serve deploy` '
                    'take); robots in inference_backend=serve mode call it. Ctrl-C stops '
                    'Serve and Ray.')
    parser.add_argument('--config', default='config/serve.yaml',
                        help='Serve config file (default: config/serve.yaml in the package)')
    parser.add_argument('--host', default=None,
                        help="HTTP address (default: the config's, 127.0.0.1)")
    parser.add_argument('--port', type=int, default=None, help="HTTP port (default: the config's)")
    parser.add_argument('--replicas', type=int, default=None, help='number of replicas')
    parser.add_argument('--adapters-dir', default=None,
                        help="directory of adapter directories (replaces 'adapters_dirs')")
    parser.add_argument('--model-weights', default=None, help="base weights ('model_weights')")
    parser.add_argument('--num-cpus', type=int, default=2, help='CPUs Ray may schedule on')
    parser.add_argument('--object-store-mb', type=int, default=96,
                        help="Ray's object store size in MiB (the server passes no objects)")
    parser.set_defaults(handler=_serve)

    fleet = subparsers.add_parser(
        'serve-fleet', help='simulate N robots offloading to one policy server',
        description='Start N robots, each with its own embedded warehouse simulator, context '
                    'manager and inference node (inference_backend=serve) in namespace '
                    'robot_<i>, against one policy server (started here from --config unless '
                    '--url names a running one); run for --seconds and summarise each robot.')
    fleet.add_argument('--robots', type=int, default=4, help='number of robots')
    fleet.add_argument('--seconds', type=float, default=60.0, help='wall-clock run time')
    fleet.add_argument('--url', default=None, help='a running policy server to use instead')
    fleet.add_argument('--config', default='config/serve.yaml', help='Serve config file')
    fleet.add_argument('--fallback', choices=('local', 'stop'), default='local',
                       help="the inference nodes' serve_fallback")
    fleet.add_argument('--real-time-factor', type=float, default=1.0,
                       help='simulation speed of every robot (1.0 = real time)')
    fleet.add_argument('--serve-timeout', type=float, default=0.5,
                       help="the inference nodes' serve_timeout_s")
    fleet.set_defaults(handler=_serve_fleet)


def _serve(args: argparse.Namespace) -> int:
    from adapter_switcher.serve.local import LocalServe
    from adapter_switcher.serve.local import ServeConfig

    try:
        config = ServeConfig.from_file(args.config)
    except ValueError as error:
        print(f'adapter-switcher serve: {error}', file=sys.stderr)
        return 2
    overrides = {}
    if args.adapters_dir:
        overrides['adapters_dirs'] = [args.adapters_dir]
    if args.model_weights is not None:
        overrides['model_weights'] = args.model_weights
    options = {'num_replicas': args.replicas} if args.replicas else {}
    config = config.with_overrides(overrides, **options)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = LocalServe(config, num_cpus=args.num_cpus, object_store_mb=args.object_store_mb,
                        host=args.host, port=args.port)
    try:
        server.start()
    except (ValueError, RuntimeError) as error:
        print(f'adapter-switcher serve: {error}', file=sys.stderr)
        return 1
    try:
        print(f'serving at {server.url} (POST act, POST warm, GET stats); Ctrl-C stops',
              flush=True)
        stop.wait()
    finally:
        server.stop()
    return 0


def _serve_fleet(args: argparse.Namespace) -> int:
    from adapter_switcher.serve.fleet import run_fleet

    if args.url:
        print(run_fleet(args.robots, args.url, args.seconds, fallback=args.fallback,
                        real_time_factor=args.real_time_factor, timeout_s=args.serve_timeout))
        return 0
    from adapter_switcher.serve.local import LocalServe
    from adapter_switcher.serve.local import ServeConfig

    try:
        config = ServeConfig.from_file(args.config)
    except ValueError as error:
        print(f'adapter-switcher serve-fleet: {error}', file=sys.stderr)
        return 2
    with LocalServe(config) as server:
        print(f'policy server at {server.url}; starting {args.robots} robots', flush=True)
        print(run_fleet(args.robots, server.url, args.seconds, fallback=args.fallback,
                        real_time_factor=args.real_time_factor, timeout_s=args.serve_timeout))
    return 0
