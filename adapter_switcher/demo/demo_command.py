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
``adapter-switcher demo``: the closed-loop simulated demo, its checks and its output folder.

Every argument is checked before a node starts (the output folder and the log can be written,
the adapters directory and the rules file are valid, MuJoCo can render without a display); a
mistake is one line on stderr and exit status 2. Then the nodes run the episodes
(:mod:`adapter_switcher.demo.run_demo`) under a progress bar, and the output folder gets
summary.json, trajectories.png, timeline.png, demo.mp4 and demo.gif (and with ``--bag`` a rosbag2
in MCAP of every topic); a table of the episodes ends the run, then where the outputs are.
"""

import argparse
import datetime
from pathlib import Path
import sys
from typing import Optional

DEFAULT_OUT_ROOT = 'demo_output'
LOG_NAME = 'demo_nodes.log'
BAG_NAME = 'bag'


class UsageError(ValueError):
    """An argument is wrong; the message names it and says why."""


def positive_int(text: str) -> int:
    """Argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected an integer >= 1, got {text!r}')
    return value


def seed_int(text: str) -> int:
    """Argparse type: a seed, 0 .. 2**31 - 1."""
    value = _int(text)
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f'expected a seed from 0 to 2147483647, got {text!r}')
    return value


def positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'expected a number > 0, got {text!r}')
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None


def register(commands) -> None:
    """Add the ``demo`` subcommand to the CLI's subparsers."""
    demo = commands.add_parser(
        'demo', help="run the closed-loop simulated demo (the README's main job)",
        description='Start the embedded simulator, the context manager and the inference node '
                    'as separate processes over DDS, drive episodes of '
                    'config/demo_scenario.yaml, and write a video, plots and a summary. By '
                    'default the simulator runs in lock-step with the nodes, so the result does '
                    "not depend on the machine's speed.")
    demo.add_argument('--episodes', type=positive_int, default=3, help='episodes to drive')
    demo.add_argument('--seed', type=seed_int, default=0, help='seed of the first episode')
    demo.add_argument('--real-time-factor', type=positive_float, default=None,
                      help='run the simulator free at this multiple of real time instead of '
                           'in lock-step (as ros2 launch does)')
    demo.add_argument('--out', default=None,
                      help=f'output folder (default: {DEFAULT_OUT_ROOT}/<date-time>/ in the '
                           'working directory)')
    demo.add_argument('--log', default=None,
                      help=f"file for the nodes' output (default: OUT/{LOG_NAME})")
    demo.add_argument('--adapters-dir', default=None,
                      help='directory of adapter directories for the inference node (default: '
                           'the shipped models/demo/adapters)')
    demo.add_argument('--rules', default=None,
                      help='context rules YAML for both nodes (default: the shipped '
                           'config/context_rules.yaml)')
    demo.add_argument('--bag', action='store_true',
                      help=f'also record every topic into OUT/{BAG_NAME}/ (rosbag2, MCAP)')
    demo.add_argument('--no-video', action='store_true',
                      help='skip demo.mp4 and demo.gif (faster)')
    demo.set_defaults(handler=main)


def check_arguments(args) -> dict:
    """Validate everything before any node starts; return the prepared paths."""
    out = Path(args.out) if args.out else Path(DEFAULT_OUT_ROOT) / \
        datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    created = not out.exists()
    try:
        return _check(args, out)
    except UsageError:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # leave nothing behind for a run that never started
        raise


def _check(args, out: Path) -> dict:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / '.write_test'
        probe.write_text('')
        probe.unlink()
    except OSError as error:
        raise UsageError(f'--out {out}: cannot write there: {error.strerror or error}') from None
    log = Path(args.log) if args.log else out / LOG_NAME
    try:
        log.open('w').close()
    except OSError as error:
        raise UsageError(f'--log {log}: cannot write it: {error.strerror or error}') from None
    if args.bag and (out / BAG_NAME).exists():
        raise UsageError(f'--bag: {out / BAG_NAME} exists already; choose another --out')
    adapters = None
    if args.adapters_dir:
        adapters = Path(args.adapters_dir).expanduser()
        if not adapters.is_dir():
            raise UsageError(f'--adapters-dir {adapters}: not a directory')
        adapters = adapters.resolve()
    rules = None
    if args.rules:
        from adapter_switcher.context.rules import load_rules
        rules = Path(args.rules).expanduser()
        try:
            load_rules(rules)
        except (OSError, ValueError) as error:
            raise UsageError(f'--rules: {error}') from None
        rules = rules.resolve()
    from adapter_switcher.sim import gl_backend
    try:
        gl_backend.require()
    except gl_backend.GLBackendError as error:
        raise UsageError(str(error)) from None
    return {'out': out.resolve(), 'log': log.resolve(), 'adapters_dir': adapters,
            'rules': rules}


def main(args) -> int:
    """Run the demo command; return the exit status."""
    try:
        paths = check_arguments(args)
    except UsageError as error:
        print(f'adapter-switcher demo: error: {error}', file=sys.stderr)
        return 2
    return _run(args, **paths)


def _run(args, out: Path, log: Path, adapters_dir: Optional[Path],
         rules: Optional[Path]) -> int:
    from adapter_switcher.demo import outputs
    from adapter_switcher.demo.bag import BagRecorder
    from adapter_switcher.demo.recording import DemoRecorder
    from adapter_switcher.demo.run_demo import run_demo_episodes
    from adapter_switcher.demo.run_demo import SCENARIO
    from adapter_switcher.demo.video import MapView
    from adapter_switcher.paths import share_path
    from adapter_switcher.sim.scenario import load_scenario
    from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
    from adapter_switcher.sim.sdf_world import load_world
    from tqdm import tqdm

    seeds = list(range(args.seed, args.seed + args.episodes))
    video = not args.no_video

    def observers():
        nodes = [DemoRecorder(video)]
        if args.bag:
            nodes.append(BagRecorder(out / BAG_NAME))
        return nodes

    mode = ('lock-step' if args.real_time_factor is None
            else f'free-running at {args.real_time_factor:g}x real time')
    print(f'adapter-switcher demo: {args.episodes} episode(s) from seed {args.seed}, {mode}; '
          f"nodes' log: {log}", flush=True)
    bar = tqdm(total=args.episodes, unit='episode', desc='episodes', file=sys.stderr,
               dynamic_ncols=True)

    def episode_done(result) -> None:
        bar.update(1)
        bar.write(f'episode seed {result.seed}: {outputs.outcome(result)} in '
                  f'{result.sim_time:.2f} s sim time', file=sys.stdout)

    try:
        with open(log, 'w') as log_file:
            run = run_demo_episodes(seeds, log_file, args.real_time_factor,
                                    str(adapters_dir) if adapters_dir else None,
                                    str(rules) if rules else None, on_episode=episode_done,
                                    make_observers=observers)
    except RuntimeError as error:
        bar.close()
        print(f'adapter-switcher demo: {error}{_fatal_line(log)}', file=sys.stderr)
        return 1
    bar.close()
    recorder = run.observers[0]
    recording = recorder.snapshot()
    scenario = load_scenario(share_path(SCENARIO))
    view = MapView(load_world(share_path(DEFAULT_WORLD)))
    extra = {'seeds': seeds, 'timing': _timing_checks(run)}
    if video:
        camera_rate = load_world(share_path(DEFAULT_WORLD)).robot.camera.update_rate
        extra.update(outputs.write_video(out, run, recording, view, scenario, camera_rate,
                                         recorder.scan_geometry))
    outputs.write_plots(out, run, recording, view, scenario)
    content = outputs.summary(run, recording, extra)
    outputs.write_summary(out / 'summary.json', content)
    print(file=sys.stdout)
    outputs.print_table(run.episodes, content, sys.stdout)
    for problem in extra['timing']:
        print(f'timing check: {problem}', file=sys.stdout)
    written = [name for name in ('summary.json', 'trajectories.png', 'timeline.png',
                                 'demo.mp4', 'demo.gif') if (out / name).is_file()]
    written += [f'{BAG_NAME}/'] if args.bag else []
    print(f'\noutputs in {out}: {", ".join(written)}', file=sys.stdout)
    return 0 if any(r.success for r in run.episodes) else 1


def _timing_checks(run) -> list:
    """
    Check each episode's sim time against its odometry.

    In lock-step there is one message per control tick, so the count must match the duration
    (an episode cannot be shorter than its data). The episode's end and its last odometry
    message arrive on different topics, so the recorder may see the end first: the last tick's
    message may be missing, never more.
    """
    from adapter_switcher.demo.closed_loop import CONTROL_HZ

    tick = 1.0 / CONTROL_HZ
    problems = []
    for result, trace in zip(run.episodes, run.traces):
        if not trace.samples:
            problems.append(f'seed {result.seed}: no odometry during the episode')
            continue
        span = trace.samples[-1][0] - trace.samples[0][0]
        if abs(span - result.sim_time) > 2 * tick + 1e-3:
            problems.append(f'seed {result.seed}: odometry spans {span:.3f} s but the episode '
                            f'took {result.sim_time:.3f} s of sim time')
        if run.lockstep:
            expected = round(result.sim_time * CONTROL_HZ)
            if not expected - 1 <= len(trace.samples) <= expected:
                problems.append(f'seed {result.seed}: {len(trace.samples)} odometry messages '
                                f'for {result.sim_time:.2f} s of sim time, expected {expected}')
    return problems


def _fatal_line(log: Path) -> str:
    """Return ': <the last FATAL line of the nodes' log>' or '' if there is none."""
    try:
        lines = log.read_text(errors='replace').splitlines()
    except OSError:
        return ''
    fatal = [line for line in lines if '[FATAL]' in line]
    return f': {fatal[-1].strip()}' if fatal else f' (see {log})'
