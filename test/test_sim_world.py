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
The world file: valid SDF for Gazebo, and the embedded simulator builds the same scene from it.

The expected scene is computed here straight from the SDF XML with 4x4 matrices, independently
of the simulator's reader, and compared geom by geom with the compiled MuJoCo model.
"""

import math
from pathlib import Path
import shutil
import subprocess
import xml.etree.ElementTree as ET

from adapter_switcher.paths import share_path
from adapter_switcher.sim.mujoco_scene import build_mjcf
from adapter_switcher.sim.mujoco_scene import CAMERA
from adapter_switcher.sim.mujoco_scene import LIDAR_GEOMGROUP
from adapter_switcher.sim.mujoco_scene import SLOW_ZONE
from adapter_switcher.sim.mujoco_scene import SPILL_GEOM
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.sdf_world import parse_world
from adapter_switcher.sim.sdf_world import WorldError
from adapter_switcher.sim.simulator import WarehouseSim

import mujoco
import numpy as np
import pytest

WORLD = share_path(DEFAULT_WORLD)
MJ_TYPES = {'box': mujoco.mjtGeom.mjGEOM_BOX, 'cylinder': mujoco.mjtGeom.mjGEOM_CYLINDER,
            'sphere': mujoco.mjtGeom.mjGEOM_SPHERE, 'plane': mujoco.mjtGeom.mjGEOM_PLANE}


def _transform(element):
    """Return the 4x4 transform of an element's <pose> (x y z roll pitch yaw)."""
    text = element.findtext('pose')
    x, y, z, roll, pitch, yaw = (float(v) for v in text.split()) if text else (0.0,) * 6
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch),
                              math.cos(yaw), math.sin(yaw))
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    t = np.eye(4)
    t[:3, :3] = rz @ ry @ rx
    t[:3, 3] = (x, y, z)
    return t


def _expected_shapes():
    """Yield (scoped name, kind, mujoco size, world transform, rgba or None) from the XML."""
    world = ET.parse(WORLD).getroot().find('world')
    for model in world.findall('model'):
        for link in model.findall('link'):
            for element in link.findall('visual') + link.findall('collision'):
                geometry = element.find('geometry')[0]
                kind = geometry.tag
                if kind == 'box':
                    size = [float(v) / 2 for v in geometry.findtext('size').split()]
                elif kind == 'cylinder':
                    size = [float(geometry.findtext('radius')),
                            float(geometry.findtext('length')) / 2]
                elif kind == 'sphere':
                    size = [float(geometry.findtext('radius'))]
                else:
                    size = [float(v) / 2 for v in geometry.findtext('size').split()]
                diffuse = element.findtext('material/diffuse')
                rgba = [float(v) for v in diffuse.split()] if diffuse else None
                name = '::'.join((model.get('name'), link.get('name'), element.get('name')))
                t = _transform(model) @ _transform(link) @ _transform(element)
                yield name, element.tag, kind, size, t, rgba


@pytest.fixture(scope='module')
def sim():
    world = load_world(WORLD)
    scenario = load_scenario(share_path(DEFAULT_SCENARIO)).nominal()
    with WarehouseSim(world, scenario) as simulator:
        yield simulator


def test_world_passes_ign_sdf_check():
    ign = shutil.which('ign')
    assert ign, 'ign (Debian ignition-tools + libsdformat-dev) is needed to validate the world'
    result = subprocess.run([ign, 'sdf', '-k', str(WORLD)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Valid' in result.stdout


def test_ign_sdf_check_rejects_a_broken_world(tmp_path):
    broken = tmp_path / 'broken.sdf'
    broken.write_text(WORLD.read_text().replace('<size>12 0.8 2</size>', '<size>12 0.8</sizes>'))
    result = subprocess.run(['ign', 'sdf', '-k', str(broken)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0


def test_scene_has_every_sdf_shape_with_its_size_pose_and_colour(sim):
    model, data = sim.model, sim.data
    mujoco.mj_kinematics(model, data)
    expected_names = set()
    for name, role, kind, size, t, rgba in _expected_shapes():
        if name.startswith(('spill::', 'slow_zone::')):
            continue  # placed from the scenario; checked below
        if role == 'collision' and kind == 'plane':
            continue  # the floor: the planar base rides on it, never collides with it
        expected_names.add(name)
        geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
        assert geom >= 0, f'{name} is missing from the MuJoCo scene'
        assert model.geom_type[geom] == MJ_TYPES[kind], name
        np.testing.assert_allclose(model.geom_size[geom][:len(size)], size, atol=1e-9,
                                   err_msg=name)
        np.testing.assert_allclose(data.geom_xpos[geom], t[:3, 3], atol=1e-9, err_msg=name)
        np.testing.assert_allclose(data.geom_xmat[geom].reshape(3, 3), t[:3, :3], atol=1e-9,
                                   err_msg=name)
        if role == 'visual':
            np.testing.assert_allclose(model.geom_rgba[geom], rgba, atol=1e-6, err_msg=name)
            assert (model.geom_contype[geom], model.geom_conaffinity[geom]) == (0, 0), name
        else:
            assert model.geom_contype[geom] | model.geom_conaffinity[geom], name
    names = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in range(model.ngeom)}
    assert names == expected_names | {SPILL_GEOM, SLOW_ZONE}


def test_spill_matches_sdf_and_is_visual_only(sim):
    model, data = sim.model, sim.data
    (name, _, kind, size, t, rgba), = [s for s in _expected_shapes() if s[0].startswith('spill')]
    geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, SPILL_GEOM)
    assert model.geom_type[geom] == MJ_TYPES[kind]
    np.testing.assert_allclose(model.geom_size[geom][:2], size, atol=1e-9)
    np.testing.assert_allclose(data.geom_xpos[geom], t[:3, 3], atol=1e-9)
    np.testing.assert_allclose(model.geom_rgba[geom], rgba, atol=1e-6)
    assert (model.geom_contype[geom], model.geom_conaffinity[geom]) == (0, 0)
    assert LIDAR_GEOMGROUP[model.geom_group[geom]] == 0


def test_slow_zone_matches_sdf_and_is_visual_only(sim):
    model, data = sim.model, sim.data
    mujoco.mj_kinematics(model, data)
    (name, _, kind, size, t, rgba), = [s for s in _expected_shapes()
                                       if s[0].startswith('slow_zone')]
    geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, SLOW_ZONE)
    assert model.geom_type[geom] == MJ_TYPES[kind]
    np.testing.assert_allclose(model.geom_size[geom], size, atol=1e-9)
    np.testing.assert_allclose(data.geom_xpos[geom], t[:3, 3], atol=1e-9)
    np.testing.assert_allclose(model.geom_rgba[geom], rgba, atol=1e-6)
    assert (model.geom_contype[geom], model.geom_conaffinity[geom]) == (0, 0)
    assert LIDAR_GEOMGROUP[model.geom_group[geom]] == 0
    zone = load_scenario(share_path(DEFAULT_SCENARIO)).slow_zone
    assert zone.position == pytest.approx(t[:2, 3])
    assert zone.size == pytest.approx([2 * v for v in size[:2]])
    assert zone.rgba == pytest.approx(rgba)


def test_randomized_scene_has_a_spill_body_per_possible_spill():
    world = load_world(WORLD)
    scenario = load_scenario(share_path(DEFAULT_SCENARIO))
    model = mujoco.MjModel.from_xml_string(build_mjcf(
        world, scenario.spill, scenario.max_spills, scenario.slow_zone))
    names = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in range(model.ngeom)}
    assert {'spill', 'spill_1', 'spill_2', SLOW_ZONE} <= names
    assert scenario.max_spills == 3 and 'spill_3' not in names


def test_lidar_sees_only_static_structure(sim):
    model = sim.model
    seen = [g for g in range(model.ngeom) if LIDAR_GEOMGROUP[model.geom_group[g]]]
    assert seen
    for g in seen:
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
        assert model.geom_bodyid[g] == 0 and model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE
        assert not name.endswith('collision'), name


def test_camera_matches_sdf_mount(sim):
    model, data = sim.model, sim.data
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
    world = ET.parse(WORLD).getroot().find('world')
    robot = world.find("model[@name='robot']")
    link = robot.find("link[@name='camera_link']")
    sensor = link.find("sensor[@type='camera']")
    t = _transform(robot) @ _transform(link) @ _transform(sensor)
    camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA)
    rotation = data.cam_xmat[camera].reshape(3, 3)
    np.testing.assert_allclose(data.cam_xpos[camera], t[:3, 3], atol=1e-9)
    np.testing.assert_allclose(-rotation[:, 2], t[:3, 0], atol=1e-9)  # looks along sensor +x
    np.testing.assert_allclose(rotation[:, 1], t[:3, 2], atol=1e-9)   # image up is sensor +z
    hfov = float(sensor.findtext('camera/horizontal_fov'))
    width = int(sensor.findtext('camera/image/width'))
    height = int(sensor.findtext('camera/image/height'))
    fovy = 2 * math.atan(math.tan(hfov / 2) * height / width)
    assert model.cam_fovy[camera] == pytest.approx(math.degrees(fovy))


def test_default_scenario_starts_where_the_sdf_puts_robot_and_spill():
    world = load_world(WORLD)
    scenario = load_scenario(share_path(DEFAULT_SCENARIO))
    x, y, yaw = scenario.start
    assert (x, y) == pytest.approx(world.robot.pose.position[:2])
    assert yaw == pytest.approx(world.robot.pose.yaw)
    spill = scenario.spill
    assert spill.position == pytest.approx(world.spill.pose.position[:2])
    assert (spill.shape, spill.size[0]) == (world.spill.kind, world.spill.size[0])
    assert spill.rgba == pytest.approx(world.spill.rgba)


def test_mjcf_compiles_without_the_spill():
    world = load_world(WORLD)
    scenario = load_scenario(share_path(DEFAULT_SCENARIO)).without_spill()
    model = mujoco.MjModel.from_xml_string(build_mjcf(world, scenario.spill))
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, SPILL_GEOM) == -1


@pytest.mark.parametrize('change, message', [
    (('<box><size>12 0.8 2</size></box>', '<mesh><uri>shelf.dae</uri></mesh>'),
     'shelves/link/row_1_collision/geometry/mesh: unsupported shape'),
    (('<pose>8.9 -5.3 0 0 0 -0.3</pose>', '<pose relative_to="walls">8.9 -5.3 0 0 0 -0.3</pose>'),
     'crate_south_east/pose: relative_to is not supported'),
    (('<model name="pillars">\n      <static>true</static>', '<model name="pillars">'),
     'pillars: is not static'),
    (('<model name="robot">', '<model name="rover">'), "no model named 'robot'"),
    (('<update_rate>10</update_rate>', '<update_rate>-1</update_rate>'),
     'robot/lidar_link/lidar/update_rate: must be positive'),
    (('<radius>0.4</radius><length>0.002</length></cylinder></geometry>\n          <material>',
      '<radius>0.4</radius><length>0.002</length></cylinder></geometry>\n          </visual>\n'
      '        <collision name="c"><geometry><box><size>1 1 1</size></box></geometry></collision>'
      '\n        <visual name="v2"><geometry><box><size>1 1 1</size></box></geometry>\n'
      '          <material>'),
     'spill: the spill must be visual only'),
    (('<samples>360</samples>', '<samples>many</samples>'), 'expected numbers'),
])
def test_unsupported_sdf_is_rejected_with_the_element_named(change, message):
    old, new = change
    text = WORLD.read_text()
    assert old in text
    with pytest.raises(WorldError, match=message.replace('(', r'\(')):
        parse_world(text.replace(old, new, 1), 'w.sdf')


def test_world_without_the_named_robot_is_rejected():
    with pytest.raises(WorldError, match="no model named 'rover'"):
        parse_world(WORLD.read_text(), 'w.sdf', robot_model='rover')


def test_missing_world_file_is_reported(tmp_path):
    with pytest.raises(WorldError, match='cannot read world file'):
        load_world(Path(tmp_path) / 'nope.sdf')
