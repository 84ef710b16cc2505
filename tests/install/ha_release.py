"""A real Home Assistant release in its own virtual environment, as HA's images ship it.

The environment is made once per HA and Python version and kept (it is large); each test
run works on a hard-linked clone, so what HA installs for Sotto starts from scratch every
time. Installers replace files rather than write into them, so the kept copy stays as made.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

# Integrations a user's HA has loaded besides Sotto's own dependencies: the web UI (which
# brings onboarding, the config API and Repairs) and the recorder.
BASE_INTEGRATIONS: Final = ("frontend", "recorder")
# Integrations whose packages HA's images ship although this HA does not load them: Sotto
# uses HA's aioesphomeapi and must leave it as it is.
SHIPPED_INTEGRATIONS: Final = ("esphome",)
INSTALL_TIMEOUT: Final = 1200.0


class HomeAssistantRelease:
    """A kept environment holding one HA release and its own integrations' packages."""

    def __init__(self, version: str, cache: Path) -> None:
        """Nothing is made until `ensure`."""
        self.version = version
        # Keyed by what decides its contents: HA's version, Python's, and this recipe.
        recipe = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
        python = f"py{sys.version_info[0]}{sys.version_info[1]}"
        self.root = cache / f"homeassistant-{version}-{python}-{recipe}"

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.root / "bin" / "python"

    def ensure(self) -> None:
        """Make the environment unless a complete one is kept (one maker at a time)."""
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with (self.root.parent / f"{self.root.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (self.root / "complete").is_file():
                self._make()

    def clone(self, target: Path) -> Path:
        """A hard-linked copy of the environment at target; returns its interpreter."""
        subprocess.run(["cp", "-al", str(self.root), str(target)], check=True)
        return target / "bin" / "python"

    def _make(self) -> None:
        partial = self.root.with_name(self.root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True)
        python = str(partial / "bin" / "python")
        _run([python, "-m", "pip", "install", "--quiet", "uv"])
        uv = [python, "-m", "uv", "pip", "install", "--quiet", "--python", python]
        # Source builds allowed here: HA's images get these from HA's own wheel index, and
        # some (pyric) have no wheel on PyPI. Only what HA installs for Sotto is under test.
        _run([*uv, f"homeassistant=={self.version}"])
        package = site_package(partial, "homeassistant")
        # HA itself again, now under its own constraints, as HA's images install it.
        requirements = sorted(
            {f"homeassistant=={self.version}", *ha_requirements(package / "components")}
        )
        _run(
            [
                *uv,
                "--constraint",
                str(package / "package_constraints.txt"),
                *requirements,
            ]
        )
        (partial / "complete").write_text("\n".join(requirements) + "\n")
        partial.rename(self.root)


def site_package(venv: Path, name: str) -> Path:
    """Where a package is installed in a virtual environment."""
    found = list((venv / "lib").glob(f"python3.*/site-packages/{name}"))
    assert len(found) == 1, f"{name} in {venv}: {found}"
    return found[0]


def _manifest(components: Path, domain: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((components / domain / "manifest.json").read_text())
    return data


def ha_requirements(components: Path) -> set[str]:
    """The packages HA's images hold for the integrations this test's HA loads."""
    sotto = json.loads(
        (Path(__file__).parents[2] / "custom_components/sotto/manifest.json").read_text()
    )
    todo = [*BASE_INTEGRATIONS, *sotto["dependencies"], *sotto["after_dependencies"]]
    seen: set[str] = set()
    requirements: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen or not (components / domain / "manifest.json").is_file():
            continue
        seen.add(domain)
        manifest = _manifest(components, domain)
        requirements.update(manifest.get("requirements", []))
        todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
    for domain in SHIPPED_INTEGRATIONS:
        # The newest release up to HA's pin: HA's images get the pinned one from HA's
        # wheel index, which PyPI may not have yet (aioesphomeapi 46.25.0 for HA 2026.11.0).
        requirements.update(
            req.replace("==", "<=") for req in _manifest(components, domain)["requirements"]
        )
    return requirements


def installed(python: Path) -> dict[str, str]:
    """Distribution name (lower case) -> version, as HA's own uv lists them."""
    listing = _run([str(python), "-m", "uv", "pip", "list", "--format", "json"])
    return {item["name"].lower(): item["version"] for item in json.loads(listing)}


def pip_check(python: Path) -> subprocess.CompletedProcess[str]:
    """`uv pip check` in the environment: every installed requirement satisfied?"""
    return subprocess.run(
        [str(python), "-m", "uv", "pip", "check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def tools_dir(target: Path, names: Iterable[str]) -> Path:
    """A directory for PATH holding only the named programs (never a compiler)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        if found := shutil.which(name):
            (target / name).symlink_to(found)
    return target


def _run(argv: list[str]) -> str:
    """Run a command, failing with its output when it fails."""
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False, env=os.environ
    )
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
