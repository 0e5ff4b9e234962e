"""DDS transport set-up for camera-sized images (see config/fastdds_large_data.xml).

`apply_large_data_profile()` must run before `rclpy.init` (Fast DDS reads the profile when the
first participant is created). It points FASTDDS_DEFAULT_PROFILES_FILE at the shipped profile
unless the user already chose a profile file or another RMW than Fast DDS. The camera driver
needs the same profile (a sample goes through shared memory only when it fits the sender's
segment); `vos-ros node --print-profile` prints its path.
"""
from __future__ import annotations

import os
from pathlib import Path

PROFILE_NAME = "fastdds_large_data.xml"
PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
#: variables by which a user has already chosen a profile (the older name is still read)
USER_PROFILE_ENV = (PROFILE_ENV, "FASTRTPS_DEFAULT_PROFILES_FILE")


def profile_path() -> Path:
    """The shipped profile: config/ of the source tree, else share/vos_ros/config of an install."""
    source = Path(__file__).resolve().parents[2] / "config" / PROFILE_NAME
    if source.is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory("vos_ros")) / "config" / PROFILE_NAME
    except (ImportError, LookupError, ValueError):
        return source
    return installed if installed.is_file() else source


def apply_large_data_profile(environ: dict | None = None) -> str | None:
    """Set FASTDDS_DEFAULT_PROFILES_FILE to the shipped profile in `environ` (default
    os.environ) when no profile is chosen and the RMW is Fast DDS (the default). Returns the
    profile now in effect (the user's or ours), None for another RMW."""
    env = os.environ if environ is None else environ
    rmw = env.get("RMW_IMPLEMENTATION", "")
    if rmw and "fastrtps" not in rmw and "fastdds" not in rmw:
        return None
    for name in USER_PROFILE_ENV:
        if env.get(name):
            return env[name]
    path = profile_path()
    if not path.is_file():
        return None
    env[PROFILE_ENV] = str(path)
    return str(path)
