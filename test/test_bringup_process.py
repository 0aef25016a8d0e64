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

"""The process bringup with real child processes: stop-all, signal escalation, exit codes."""

import io
import os
import sys
import threading
import time

from adapter_switcher.bringup.node_spec import NodeSpec
from adapter_switcher.bringup.process_bringup import run_processes

# A stand-in node: prints a line, then waits; on SIGINT writes a marker and exits 0 (or ignores
# SIGINT when told to); exits with a given code after a delay (counted once the node named by
# 'after' is ready) when told to, only the first time it runs with crash_once.
FAKE_NODE = """
import os, signal, sys, time
from pathlib import Path
args = sys.argv[sys.argv.index('--ros-args') + 1:]
name = args[args.index('-r') + 1].split(':=')[1]
params = dict(a.replace("'", '').split(':=') for a in args if ':=' in a and '__' not in a)
marker = Path(os.environ['MARKER_DIR'])
def stop(signum, frame):
    (marker / (name + '.stopped')).write_text(str(signum))
    sys.exit(0)
if params.get('ignore_sigint') == 'true':
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
else:
    signal.signal(signal.SIGINT, stop)
print('hello from', name, flush=True)
(marker / (name + '.ready')).write_text('')
while 'after' in params and not (marker / (params['after'] + '.ready')).exists():
    time.sleep(0.02)
exit_after = float(params.get('exit_after', '0'))
if params.get('crash_once') == 'true':
    exit_after = 0.0 if (marker / (name + '.crashed')).exists() else exit_after
    (marker / (name + '.crashed')).write_text('')
deadline = time.monotonic() + (exit_after or 60.0)
while time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(int(params.get('exit_code', '0')))
"""


def _env(tmp_path):
    (tmp_path / 'fake_node.py').write_text(FAKE_NODE)
    env = dict(os.environ)
    env['PYTHONPATH'] = str(tmp_path) + os.pathsep + env.get('PYTHONPATH', '')
    env['MARKER_DIR'] = str(tmp_path)
    return env


def _spec(name, **params):
    return NodeSpec(executable=name, module='fake_node', name=name, parameters=(params,))


def _stop_when_ready(tmp_path, *names):
    """Return an event set once every named fake node has installed its signal handlers."""
    stop = threading.Event()

    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all((tmp_path / f'{n}.ready').exists() for n in names):
                break
            time.sleep(0.02)
        stop.set()
    threading.Thread(target=watch, daemon=True).start()
    return stop


def _run(specs, env, **kwargs):
    out = io.StringIO()
    code = run_processes(specs, env=env, out=out, install_signal_handlers=False, **kwargs)
    return code, out.getvalue()


def test_a_node_that_dies_stops_the_others_and_sets_the_exit_code(tmp_path):
    crasher = _spec('crasher', exit_after=0.2, exit_code=3, after='steady')
    code, output = _run([crasher, _spec('steady')],
                        _env(tmp_path), grace_s=10.0)
    assert code == 3
    assert (tmp_path / 'steady.stopped').read_text() == '2'  # SIGINT
    assert '[crasher] hello from crasher' in output
    assert '[steady] hello from steady' in output
    assert 'crasher exited with 3' in output


def test_a_node_that_exits_cleanly_on_its_own_still_counts_as_a_failure(tmp_path):
    quitter = _spec('quitter', exit_after=0.2, exit_code=0, after='steady')
    code, _ = _run([quitter, _spec('steady')],
                   _env(tmp_path))
    assert code == 1 and (tmp_path / 'steady.stopped').exists()


def test_a_requested_stop_interrupts_every_node_and_returns_zero(tmp_path):
    env = _env(tmp_path)
    code, output = _run([_spec('a'), _spec('b')], env,
                        stop_event=_stop_when_ready(tmp_path, 'a', 'b'))
    assert code == 0
    assert (tmp_path / 'a.stopped').exists() and (tmp_path / 'b.stopped').exists()
    assert 'stop requested' in output


def test_a_node_deaf_to_sigint_gets_sigterm_after_the_grace_period(tmp_path):
    env = _env(tmp_path)
    start = time.monotonic()
    code, output = _run([_spec('deaf', ignore_sigint=True)], env,
                        stop_event=_stop_when_ready(tmp_path, 'deaf'), grace_s=1.0)
    assert (tmp_path / 'deaf.stopped').read_text() == '15'  # SIGTERM
    assert 'deaf still running after SIGINT' in output
    assert code == 0 and time.monotonic() - start < 60


def test_the_command_line_is_logged_for_each_node(tmp_path):
    env = _env(tmp_path)
    _, output = _run([_spec('a')], env, stop_event=_stop_when_ready(tmp_path, 'a'))
    assert f'[bringup] starting a: {sys.executable} -m fake_node --ros-args' in output


def test_a_respawning_node_is_restarted_and_the_others_keep_running(tmp_path):
    env = _env(tmp_path)
    crasher = NodeSpec(executable='crasher', module='fake_node', name='crasher',
                       parameters=({'exit_after': 0.3, 'exit_code': 9, 'crash_once': True},),
                       respawn=True, respawn_delay=0.1)
    stop = threading.Event()

    def stop_once_respawned():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and out.getvalue().count('hello from crasher') < 2:
            time.sleep(0.02)
        stop.set()
    out = io.StringIO()
    threading.Thread(target=stop_once_respawned, daemon=True).start()
    code = run_processes([crasher, _spec('steady')], env=env, out=out,
                         install_signal_handlers=False, stop_event=stop)
    output = out.getvalue()
    assert 'crasher exited with 9; respawning in 0.1 s' in output
    assert output.count('hello from crasher') == 2
    assert (tmp_path / 'steady.stopped').exists() and (tmp_path / 'crasher.stopped').exists()
    assert code == 0


def test_a_failing_nodes_fatal_line_comes_last_without_interrupt_tracebacks(tmp_path):
    env = _env(tmp_path)
    # 'slow' is still importing (a long sleep at import time) when 'broken' fails.
    (tmp_path / 'slow_node.py').write_text(
        'import time\nprint("importing", flush=True)\ntime.sleep(60)\n')
    (tmp_path / 'broken_node.py').write_text(
        'import sys, time\ntime.sleep(0.5)\n'
        'print("[FATAL] [1.0] [broken]: cannot start: rules_file x: missing", flush=True)\n'
        'sys.exit(1)\n')
    slow = NodeSpec(executable='slow', module='slow_node', name='slow')
    broken = NodeSpec(executable='broken', module='broken_node', name='broken')
    code, output = _run([slow, broken], env, grace_s=10.0)
    assert code == 1
    assert 'KeyboardInterrupt' not in output and 'Traceback' not in output
    assert output.strip().splitlines()[-1] == (
        '[bringup] broken failed: [FATAL] [1.0] [broken]: cannot start: rules_file x: missing')
