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
Run NodeSpecs as child processes: ``ros2 launch`` for machines without ``launch`` installed.

Every node runs as ``python -m <module> --ros-args ...`` (:meth:`NodeSpec.command`) in its own
process group, its output prefixed with ``[name]`` as ``ros2 launch`` does. SIGINT and SIGTERM
are forwarded to every node. A node whose spec asks for ``respawn`` is restarted after
``respawn_delay`` when it exits on its own (a crash); when any other node exits on its own, the
others are stopped too, since the robot cannot run with part of its graph. Nodes get SIGINT
first (their clean-shutdown path), then SIGTERM, then SIGKILL, each after a grace period. A
node interrupted while still importing prints a KeyboardInterrupt traceback: once a stop has
begun, such tracebacks are dropped, and when a node failed, its last FATAL line is printed last,
so the reason stays in sight.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, TextIO

from adapter_switcher.bringup.node_spec import NodeSpec

GRACE_S = 10.0
POLL_S = 0.1


class _Child:
    def __init__(self, spec: NodeSpec, env: Dict[str, str], out: TextIO,
                 stopping: threading.Event):
        self.spec = spec
        self.fatal = ''
        self.stopping = stopping
        self.popen = subprocess.Popen(
            spec.command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True, errors='replace', bufsize=1)
        self._pump = threading.Thread(target=self._forward, args=(out,), daemon=True)
        self._pump.start()

    def _forward(self, out: TextIO) -> None:
        traceback: List[str] = []
        for line in self.popen.stdout:
            if '[FATAL]' in line:
                self.fatal = line.strip()
            if traceback or line.startswith('Traceback (most recent call last)'):
                traceback.append(line)
                if line.startswith((' ', '\t', 'Traceback')):
                    continue   # the traceback goes on
                if self.stopping.is_set() and line.startswith('KeyboardInterrupt'):
                    traceback = []   # our own interrupt of a node still starting: noise
                    continue
                lines, traceback = traceback, []
            else:
                lines = [line]
            out.write(''.join(f'[{self.spec.name}] {text}' for text in lines))
            out.flush()
        out.write(''.join(f'[{self.spec.name}] {text}' for text in traceback))

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signum)
            except ProcessLookupError:
                pass

    def join_output(self) -> None:
        self._pump.join(timeout=2.0)


def _exit_code(returncode: int) -> int:
    """Map a Popen return code to a shell exit code (a signal N becomes 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def run_processes(specs: Sequence[NodeSpec], env: Optional[Dict[str, str]] = None,
                  out: TextIO = sys.stdout, grace_s: float = GRACE_S,
                  install_signal_handlers: bool = True,
                  stop_event: Optional[threading.Event] = None) -> int:
    """
    Start every spec, wait until one exits or a stop is asked for, stop the rest; return a code.

    The code is 0 after a requested stop (signal or ``stop_event``) when every node exited
    cleanly, otherwise the exit code of the first node that ended on its own (or failed to
    stop), so a supervisor sees why the robot went down.
    """
    env = dict(os.environ if env is None else env)
    env.setdefault('PYTHONUNBUFFERED', '1')
    stop = stop_event or threading.Event()
    requested: List[int] = []
    stopping = threading.Event()

    def on_signal(signum, _frame):
        requested.append(signum)
        stop.set()

    previous = _install(on_signal) if install_signal_handlers else {}
    children: List[_Child] = []
    try:
        for spec in specs:
            out.write(f'[bringup] starting {spec.name}: {" ".join(spec.command())}\n')
            children.append(_Child(spec, env, out, stopping))
        first_exit = _wait_first_exit(children, stop, env, out)
        stopping.set()
        if first_exit is not None:
            out.write(f'[bringup] {first_exit.spec.name} exited with '
                      f'{first_exit.popen.returncode}; stopping the others\n')
        else:
            out.write('[bringup] stop requested; stopping all nodes\n')
        codes = _stop_all(children, grace_s, out)
        if first_exit is not None and first_exit.fatal:
            out.write(f'[bringup] {first_exit.spec.name} failed: {first_exit.fatal}\n')
            out.flush()
    finally:
        for child in children:
            child.signal(signal.SIGKILL)
        _restore(previous)
    if first_exit is not None:
        return _exit_code(first_exit.popen.returncode) or 1
    failed = [code for code in codes if code not in (0, -signal.SIGINT)]
    return _exit_code(failed[0]) if failed else 0


def _wait_first_exit(children: List[_Child], stop: threading.Event, env: Dict[str, str],
                     out: TextIO) -> Optional[_Child]:
    """Wait for a stop or a node that exits and is not respawned; respawn the others."""
    while not stop.wait(POLL_S):
        for index, child in enumerate(children):
            code = child.popen.poll()
            if code is None:
                continue
            if not child.spec.respawn:
                return child
            out.write(f'[bringup] {child.spec.name} exited with {code}; respawning in '
                      f'{child.spec.respawn_delay:g} s\n')
            if stop.wait(child.spec.respawn_delay):
                return None
            child.join_output()
            children[index] = _Child(child.spec, env, out, child.stopping)
    return None


def _stop_all(children: Sequence[_Child], grace_s: float, out: TextIO) -> List[int]:
    """Stop the children in escalating steps; return their return codes in order."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        for child in children:
            child.signal(signum)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(c.popen.poll() is None for c in children):
            time.sleep(POLL_S)
        alive = [c.spec.name for c in children if c.popen.poll() is None]
        if not alive:
            break
        out.write(f'[bringup] {", ".join(alive)} still running after {signum.name}\n')
    for child in children:
        child.popen.wait()
        child.join_output()
    return [child.popen.returncode for child in children]


def _install(handler: Callable) -> Dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: Dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
