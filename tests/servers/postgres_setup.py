"""What a throwaway PostgreSQL needs from the host: its binaries and an unprivileged user.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` system
user, or as a ``syncjobs-pg`` system user created here with ``useradd``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

from tests.servers.process import INSTALL_HINT

PG_ROOT = Path("/usr/lib/postgresql")
FALLBACK_PG_USER = "syncjobs-pg"


def pg_version_key(path: Path) -> tuple[int, ...]:
    """Sort key of ``/usr/lib/postgresql/<version>/bin`` by its version numbers."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_postgres_bin_dir() -> Path:
    """Return ``/usr/lib/postgresql/<highest version>/bin`` holding initdb and postgres."""
    candidates = [
        d for d in PG_ROOT.glob("*/bin") if (d / "initdb").is_file() and (d / "postgres").is_file()
    ]
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL server binaries not found under {PG_ROOT}/<version>/bin: {INSTALL_HINT}"
        )
    return max(candidates, key=pg_version_key)


def traversable_by_others(path: Path) -> bool:
    """Whether a user other than the owner may enter ``path`` and every parent of it."""
    for part in [path, *path.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created (no home, no login shell) if it does not exist."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and result.returncode != 9:  # 9: user already exists
        raise RuntimeError(f"could not create system user {name!r}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def server_user() -> pwd.struct_passwd:
    """The OS user a cluster runs as: this user, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return ensure_system_user(FALLBACK_PG_USER)
