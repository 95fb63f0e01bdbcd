"""The lock file, environment.yml and the installed environment agree."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_environment_yml_matches_lock():
    lock = _pins((ROOT / "requirements/lock.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert lock, "no pins found in the lock file"
    assert env == lock


def test_installed_versions_are_the_locked_ones():
    lock = _pins((ROOT / "requirements/lock.txt").read_text().splitlines())
    wrong = {}
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from the lock (locked, installed): {wrong}"
