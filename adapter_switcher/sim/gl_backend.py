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
Pick the OpenGL backend of the MuJoCo camera before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, when it is first imported, and without a display its default
(GLFW) cannot render: the camera then fails deep inside the simulator thread. So the simulation
package calls :func:`configure` on import: an explicit ``MUJOCO_GL`` is checked and kept; with a
display, GLFW stays; otherwise the first headless backend that can create a context wins, EGL
then OSMesa (each probed in a short subprocess, as a failed GL load cannot be undone in this
one). The choice is written to ``MUJOCO_GL`` and ``PYOPENGL_PLATFORM``, so child processes
inherit it. When nothing works, :func:`require` raises one line saying what to install.
"""

import os
import subprocess
import sys
from typing import Callable, MutableMapping, Optional

HEADLESS = ('egl', 'osmesa')
KNOWN = ('egl', 'osmesa', 'glfw', 'glx')
INSTALL_HINT = ('install EGL (Debian/Ubuntu: libegl1) or OSMesa (libosmesa6), or set MUJOCO_GL '
                'to a backend that works here')
PROBE = ('import mujoco; context = mujoco.GLContext(16, 16); context.make_current(); '
         'context.free()')
PROBE_TIMEOUT_S = 60.0


class GLBackendError(RuntimeError):
    """No OpenGL backend can render the camera; the message says what to install."""


def probe(backend: str) -> bool:
    """Return whether MuJoCo can create an OpenGL context with ``backend``."""
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        done = subprocess.run([sys.executable, '-c', PROBE], env=env, timeout=PROBE_TIMEOUT_S,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def select(environ: MutableMapping[str, str],
           can_render: Callable[[str], bool] = probe) -> str:
    """Choose the backend for ``environ``, set it there, and return it; raise if none works."""
    chosen = environ.get('MUJOCO_GL', '').strip().lower()
    if chosen:
        if chosen not in KNOWN:
            raise GLBackendError(f'MUJOCO_GL={chosen!r} is not a backend MuJoCo knows: use '
                                 f'{", ".join(KNOWN)}')
        if chosen in HEADLESS:
            environ.setdefault('PYOPENGL_PLATFORM', chosen)
        return chosen
    if environ.get('DISPLAY') or environ.get('WAYLAND_DISPLAY'):
        return 'glfw'
    for backend in HEADLESS:
        if can_render(backend):
            environ['MUJOCO_GL'] = environ['PYOPENGL_PLATFORM'] = backend
            return backend
    raise GLBackendError(f'no display and no headless OpenGL for the MuJoCo camera (tried EGL '
                         f'and OSMesa): {INSTALL_HINT}')


_error: Optional[GLBackendError] = None


def configure() -> None:
    """Select the backend for this process once; keep a failure for :func:`require`."""
    global _error
    try:
        select(os.environ)
    except GLBackendError as error:
        _error = error


def require() -> None:
    """Raise the selection's failure, if there was one (call before rendering)."""
    if _error is not None:
        raise _error
