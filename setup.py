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

"""ament_python package: builds with colcon on a ROS 2 machine and installs with pip elsewhere."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

PACKAGE = 'adapter_switcher'
SHARE = os.path.join('share', PACKAGE)
# Directories installed under share/adapter_switcher, keeping their layout.
SHARED_DIRS = ('launch', 'config', 'worlds', 'models')


def shared_data_files():
    """Map every file under SHARED_DIRS to its place under share/adapter_switcher."""
    entries = {}
    for top in SHARED_DIRS:
        for path in glob(os.path.join(top, '**', '*'), recursive=True):
            if os.path.isfile(path) and '__pycache__' not in path:
                entries.setdefault(os.path.join(SHARE, os.path.dirname(path)), []).append(path)
    return sorted(entries.items())


# The ROS 2 client libraries as wheels from PyPI, for machines without a ROS 2 install.
# Never install these where ROS 2 is installed and sourced (ROS_DISTRO set).
ROS_WHEELS = [
    'ros-rclpy', 'ros-std-msgs', 'ros-sensor-msgs', 'ros-geometry-msgs', 'ros-nav-msgs',
    'ros-std-srvs', 'ros-diagnostic-msgs', 'ros-rosgraph-msgs', 'ros-rcl-interfaces',
    'ros-rmw-fastrtps-cpp', 'ros-ament-index-python', 'ros-lifecycle-msgs',
]

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        (SHARE, ['package.xml']),
    ] + shared_data_files(),
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'torch>=2.3',
        'peft>=0.15',
        'transformers>=4.45',
        'safetensors>=0.4',
        'numpy>=1.24',
        'PyYAML>=6',
        'opencv-python-headless>=4.8',
        'mujoco>=3.2',
        'cryptography>=42',
        'watchdog>=4',
        'tqdm>=4.60',
        # the demo's output folder: video, plots, bag
        'matplotlib>=3.7',
        'imageio>=2.31',
        'av>=12',
        'rosbags>=0.10',
    ],
    extras_require={
        'test': [
            'pytest>=7',
            'flake8>=6',
            'flake8-builtins',
            'flake8-comprehensions',
            'flake8-docstrings',
            'flake8-import-order',
            'flake8-quotes',
            'pydocstyle>=6',
            'hypothesis>=6',
            'psutil>=5',
            'py-spy',  # bench/footprint.py --profile: where the inference node's CPU goes
        ],
        # The policy server (adapter_switcher.serve) and the robots' HTTP client for it.
        'serve': ['ray[serve]==2.60.0', 'requests>=2.28'],
        'ros-wheels': ROS_WHEELS + ['ros-ament-flake8', 'ros-ament-pep257'],
    },
    zip_safe=False,
    maintainer='adapter_switcher maintainers',
    maintainer_email='maintainers@users.noreply.b-seed-f8808dd4.example',
    description='Hot-swappable PEFT LoRA adapters on one frozen base model, driven by ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'adapter-switcher = adapter_switcher.cli:main',
            'context_manager = adapter_switcher.nodes.context_manager_node:main',
            'inference_node = adapter_switcher.nodes.inference_node:main',
            'lifecycle_manager = adapter_switcher.nodes.lifecycle_manager_node:main',
            'simulator = adapter_switcher.sim.simulator_node:main',
            'expert_driver = adapter_switcher.sim.expert_driver_node:main',
        ],
    },
)
