# JupyterHub for the course: one server per student, each their own Unix user, home and data folder; nbgrader's
# exchange to release, fetch, submit, collect and return; the one shared copy of the data. README, "A class on one
# server". Settings come from CLASSROOM_* variables (tools/classroom.py): CLASSROOM_INSTRUCTORS (the admins),
# CLASSROOM_GROUP (whose members may log in), CLASSROOM_ROOT, CLASSROOM_DATA, CLASSROOM_EXCHANGE, CLASSROOM_IP/_PORT.
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.classroom import prepare_classroom, prepare_home, settings, singleuser_command  # noqa: E402
from tools.paths import NODE_MODULES  # noqa: E402

c = get_config()  # noqa: F821 - JupyterHub's config loader defines get_config
room = settings()
prepare_classroom(room)

c.JupyterHub.ip = room.ip
c.JupyterHub.port = room.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{room.root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(room.root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(room.root / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(NODE_MODULES / ".bin" / "configurable-http-proxy")]  # pinned in tools/
c.ConfigurableHTTPProxy.pid_file = str(room.root / "jupyterhub-proxy.pid")

# Who: system users and their passwords (PAM). A student is a Unix user in CLASSROOM_GROUP; instructors are admins.
# Unix users make the separation real: homes, submissions and the instructor's files are kept apart by the kernel.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.admin_users = set(room.instructors)
c.Authenticator.allowed_users = set(room.instructors)
c.PAMAuthenticator.allowed_groups = {room.group}

# Each user's server runs as that user in their home (LocalProcessSpawner here; The Littlest JupyterHub's
# SystemdSpawner adds memory and CPU limits: README). prepare_home closes the home and links the shared data.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = singleuser_command()
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 60


def pre_spawn_hook(spawner):
    """The home and environment of the user whose server starts (nbgrader's formgrader for instructors only)."""
    spawner.environment = {**spawner.environment, **prepare_home(room, spawner.user.name)}


c.Spawner.pre_spawn_hook = pre_spawn_hook

# Servers idle for an hour are stopped (their files stay): jupyterhub-idle-culler, pinned with the hub.
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
     "services": ["idle-culler"]},
]  # fmt: skip
c.JupyterHub.services = [
    {"name": "idle-culler", "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"]},
]
