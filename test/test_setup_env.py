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

"""scripts/setup_env.sh waits, with a bound, for an apt/dpkg lock another process holds."""

import os
from pathlib import Path
import subprocess

SCRIPT = Path(__file__).resolve().parents[1] / 'scripts' / 'setup_env.sh'

# An apt-get that reports a held lock the first LOCKED_RUNS times, then succeeds (or fails
# with another error when told to); it logs its arguments.
FAKE_APT_GET = """#!/usr/bin/env bash
count=$(cat "$STATE/runs" 2>/dev/null || echo 0)
echo $((count + 1)) > "$STATE/runs"
echo "$*" >> "$STATE/args"
if [ "$count" -lt "$LOCKED_RUNS" ]; then
  echo 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)'
  exit 100
fi
if [ -n "${OTHER_ERROR:-}" ]; then echo 'E: Unable to locate package nosuch'; exit 100; fi
echo 'Reading package lists... Done'
"""


def _run(tmp_path, locked_runs, timeout_s=600, other_error=False):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / 'apt-get'
    fake.write_text(FAKE_APT_GET)
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
               STATE=str(tmp_path), LOCKED_RUNS=str(locked_runs),
               APT_LOCK_TIMEOUT_S=str(timeout_s), APT_RETRY_S='0')
    if other_error:
        env['OTHER_ERROR'] = '1'
    done = subprocess.run(['bash', '-c', f'. "{SCRIPT}" && apt_get update -q'], env=env,
                          capture_output=True, text=True, timeout=120)
    runs = int((tmp_path / 'runs').read_text())
    return done, runs, (tmp_path / 'args').read_text()


def test_a_held_lock_is_waited_for_then_the_command_runs(tmp_path):
    done, runs, args = _run(tmp_path, locked_runs=2)
    assert done.returncode == 0, done.stdout + done.stderr
    assert runs == 3
    assert done.stdout.count('holds the apt/dpkg lock: retrying') == 2
    assert 'Reading package lists... Done' in done.stdout
    assert args.splitlines()[-1] == '-o DPkg::Lock::Timeout=600 update -q'


def test_the_wait_is_bounded(tmp_path):
    done, runs, _ = _run(tmp_path, locked_runs=1000, timeout_s=0)
    assert done.returncode == 100 and runs == 1
    assert 'still held after 0 s: giving up' in done.stdout


def test_other_failures_are_not_retried(tmp_path):
    done, runs, _ = _run(tmp_path, locked_runs=0, other_error=True)
    assert done.returncode == 100 and runs == 1
    assert 'Unable to locate package nosuch' in done.stdout and 'retrying' not in done.stdout


def test_sourcing_the_script_installs_nothing(tmp_path):
    done = subprocess.run(['bash', '-c', f'. "{SCRIPT}" && echo sourced'],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, ADAPTER_SWITCHER_VENV=str(tmp_path / 'venv')))
    assert done.stdout.strip() == 'sourced' and not (tmp_path / 'venv').exists()
