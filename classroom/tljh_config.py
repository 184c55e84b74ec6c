# The Littlest JupyterHub (one server, up to about 100 students): the course's part of the hub's configuration.
# Copy to /opt/tljh/config/jupyterhub_config.d/pytorch-course.py, then `sudo tljh-config reload` (README, "A class on
# one server"). The Littlest JupyterHub keeps its own authenticator, its SystemdSpawner (memory and CPU per user:
# `tljh-config set limits.memory 4G`, `limits.cpu 2`) and its idle culler; this adds the course's environment: each
# student's home closed and their data folder linked to the one shared copy, nbgrader's exchange, the formgrader for
# instructors only. Only configured: the tests run classroom/jupyterhub_config.py, with the same helpers.
import contextlib
import sys

sys.path.insert(0, "/opt/pytorch-course")  # the repository, readable by every user

from tools.classroom import prepare_classroom, prepare_home, settings

c = get_config()  # noqa: F821 - JupyterHub's config loader defines get_config
room = settings({
    "CLASSROOM_ROOT": "/srv/pytorch-course",
    "CLASSROOM_DATA": "/srv/pytorch-course/data",
    "CLASSROOM_EXCHANGE": "/srv/nbgrader/exchange",
    "CLASSROOM_INSTRUCTORS": "jupyter-teacher",  # TLJH's Unix name of the admin `teacher`
})  # fmt: skip
prepare_classroom(room)


def pre_spawn_hook(spawner):
    """The course's home and environment for TLJH's Unix user jupyter-<name> (made at the first start: from then)."""
    with contextlib.suppress(KeyError):  # the first start: TLJH makes the user after this hook; the next links the data
        spawner.environment = {**spawner.environment, **prepare_home(room, f"jupyter-{spawner.user.name}")}


c.Spawner.pre_spawn_hook = pre_spawn_hook
