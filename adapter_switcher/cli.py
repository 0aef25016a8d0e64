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
adapter-switcher: hot-swappable LoRA adapters on one frozen base model, driven by ROS 2.

Run the simulated demo, start the robot's nodes, serve the policy, manage a fleet's adapters,
or train the demo models.
"""

import argparse
import importlib
from importlib import metadata
import sys

from adapter_switcher.demo import demo_command
from adapter_switcher.demo import train_cli
from adapter_switcher.fleet import cli as fleet_cli
from adapter_switcher.serve import cli as serve_cli

DEMO_DIR = 'models/demo'
SIM_NODES_MODULE = 'adapter_switcher.sim.launch_nodes'


def _bringup(args) -> int:
    from adapter_switcher.bringup.process_bringup import run_processes
    from adapter_switcher.bringup.robot_nodes import robot_node_specs

    specs = robot_node_specs(namespace=args.namespace, params_file=args.params_file,
                             adapters_dir=args.adapters_dir,
                             use_sim_time=args.use_sim_time or args.with_sim,
                             managed=args.managed, respawn=args.respawn,
                             state_dir=args.state_dir)
    if args.with_sim:
        if specs[0].namespace:
            print('adapter-switcher: --with-sim cannot be combined with --namespace: the '
                  'simulator publishes absolute topics (/scan, /odom, /camera/image_raw)',
                  file=sys.stderr)
            return 2
        try:
            sim_nodes = importlib.import_module(SIM_NODES_MODULE)
        except ModuleNotFoundError as error:
            if error.name and SIM_NODES_MODULE.startswith(error.name):
                print(f'adapter-switcher: --with-sim needs {SIM_NODES_MODULE}, which is not '
                      'installed', file=sys.stderr)
                return 2
            raise
        specs = [sim_nodes.simulator_node_spec()] + specs
    return run_processes(specs)


def _make_demo_adapters(args) -> int:
    from adapter_switcher.demo.adapters import make_demo_adapters
    paths = make_demo_adapters(args.out, rank=args.rank, steps=args.steps, seed=args.seed)
    for name, path in paths.items():
        print(f'{name}: {path}')
    return 0


class DefaultsFormatter(argparse.HelpFormatter):
    """Append '(default: X)' to an option's help, unless it has no default or says it itself."""

    def _get_help_string(self, action):
        text = action.help or ''
        if ('(default' in text or not action.option_strings
                or action.default is None or action.default is False
                or action.default == argparse.SUPPRESS):
            return text
        return text + ' (default: %(default)s)'


class Parser(argparse.ArgumentParser):
    """Defaults shown in every --help; a usage mistake is one line on stderr and status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _version() -> str:
    try:
        return metadata.version('adapter_switcher')
    except metadata.PackageNotFoundError:
        return 'unknown (not installed)'


def _model_options(parser: argparse.ArgumentParser, out_required: bool, steps: int) -> None:
    """Add the options every model-writing command takes: --out, --steps, --seed."""
    default = '' if out_required else (f' (default: {DEMO_DIR} in the package share directory, '
                                       'the shipped models the inference node loads)')
    parser.add_argument('--out', required=out_required, default=None,
                        help=f'output directory{default}')
    parser.add_argument('--steps', type=int, default=steps, help='training steps per model')
    parser.add_argument('--seed', type=int, default=0, help='random seed')


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog='adapter-switcher', description=__doc__)
    parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=Parser)

    bringup = commands.add_parser(
        'bringup', help='start the robot nodes as processes (ros2 launch without launch)',
        description='Start the context manager and the inference node (and, with --with-sim, '
                    'the simulator) with the same parameters as launch/robot.launch.py. '
                    'Ctrl-C stops them all.')
    bringup.add_argument('--namespace', default='', help='namespace for every node')
    bringup.add_argument('--params-file', default=None,
                         help='parameter file (default: config/adapter_switcher.yaml)')
    bringup.add_argument('--adapters-dir', default=None,
                         help="directory of adapter directories (replaces 'adapters_dirs')")
    bringup.add_argument('--use-sim-time', action='store_true', help='follow /clock')
    bringup.add_argument('--managed', action=argparse.BooleanOptionalAction, default=True,
                         help='start the nodes unconfigured and let a lifecycle manager bring '
                              'them up (default); --no-managed: plain self-starting nodes')
    bringup.add_argument('--respawn', action='store_true',
                         help='restart a node that dies; it resumes its saved state')
    bringup.add_argument('--state-dir', default=None,
                         help='where the nodes keep their state across crashes (default with '
                              '--respawn: $ROS_HOME/adapter_switcher/state/<namespace>)')
    bringup.add_argument('--with-sim', action='store_true',
                         help='also start the embedded simulator (implies --use-sim-time)')
    bringup.set_defaults(handler=_bringup)

    demo = commands.add_parser(
        'make-demo-adapters', help='write scripted-behaviour demo weights and LoRA adapters',
        description='Fit and write a demo policy base and one LoRA adapter per scripted '
                    'behaviour (OUT/base_policy.safetensors, OUT/adapters/<name>/): quick '
                    'models for tests and experiments. The shipped models come from '
                    'train-demo.')
    _model_options(demo, out_required=True, steps=300)
    demo.add_argument('--rank', type=int, default=8, help='LoRA rank')
    demo.set_defaults(handler=_make_demo_adapters)

    train_cli.register(commands)

    demo_command.register(commands)
    serve_cli.register(commands)
    fleet_cli.register(commands)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == '__main__':
    sys.exit(main())
