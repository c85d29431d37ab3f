"""Who takes the scene's lock: a shared scene's world does, the MuJoCo backend's does not.

An emulator steps its scene's ``MjData`` from its own thread, so the world it hands to tasks must
wait for the lock; the MuJoCo backend's scene is touched by the env's thread alone, and its
per-step queries skip the lock (issue 12's step path).
"""

import threading

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim.scene import Scene
from lerobot_gym.tasks.pick_cube import PickCube

QUERIES = (
    lambda w: w.site_pos("gripperframe"),
    lambda w: w.body_pos("cube"),
    lambda w: w.body_quat("cube"),
    lambda w: w.touching(w.geom_ids(("cube",))),
)


def _finished_while_locked(world, lock, wait_s: float) -> list[bool]:
    """Run every query on its own thread while this thread holds ``lock``: which finished?"""
    done = [threading.Event() for _ in QUERIES]
    workers = [
        threading.Thread(target=lambda q=q, d=d: (q(world), d.set()))
        for q, d in zip(QUERIES, done, strict=True)
    ]
    with lock:
        for worker in workers:
            worker.start()
        for event in done:
            event.wait(timeout=wait_s)
        finished = [event.is_set() for event in done]
    for worker in workers:
        worker.join()
    assert all(event.is_set() for event in done)  # every query answers once the lock is free
    return finished


def test_a_shared_scenes_world_waits_for_the_lock():
    # A query that waits for the lock cannot finish before the release, however long this
    # holds it (a slow machine could only make a query that does not wait look like one that
    # does, never the reverse), so a short hold keeps the test quick.
    scene = Scene(SO101, PickCube(), image_size=(64, 64)).build(30)
    try:
        assert _finished_while_locked(scene.world, scene.lock, wait_s=0.1) == [False] * 4
    finally:
        scene.close()


def test_the_backends_world_reads_without_the_lock_and_the_same_values():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    env.reset(seed=3)
    scene = env.unwrapped.backend.scene
    try:
        # Each wait ends as soon as its query finished (the long timeout only bounds a hang).
        assert _finished_while_locked(scene.world, scene.lock, wait_s=30.0) == [True] * 4
        data, model = scene.data, scene.model
        world = scene.world
        np.testing.assert_array_equal(world.body_pos("cube"), data.xpos[model.body("cube").id])
        np.testing.assert_array_equal(world.body_quat("cube"), data.xquat[model.body("cube").id])
        site = model.site("gripperframe").id
        np.testing.assert_array_equal(world.site_pos("gripperframe"), data.site_xpos[site])
    finally:
        env.close()


def test_touching_among_reads_contacts_only_within_reach(monkeypatch):
    # The pads' contacts with the cube, as touching() & pads, along the scripted grasp; while
    # no pad can reach the cube the contact list is not read at all.
    from lerobot_gym.tasks.scripted.cube import PickCubePolicy

    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    obs, info = env.reset(seed=4)
    policy = PickCubePolicy(env)
    policy.reset(obs, info)
    world = env.unwrapped.backend.scene.world
    robot = env.unwrapped.robot
    cube, pads = world.geom_ids(("cube",)), world.geom_ids(robot.arms[0].pad_geoms)
    real = world.touching
    reads = []
    monkeypatch.setattr(world, "touching", lambda geoms: reads.append(1) or real(geoms))
    skipped = touched = 0
    try:
        for _ in range(150):
            obs, *_ = env.step(policy(obs))
            before = len(reads)
            among = world.touching_among(cube, pads)
            assert among == real(cube) & pads
            skipped += len(reads) == before
            touched += bool(among)
    finally:
        env.close()
    assert skipped and touched  # both the skip and the read were exercised
