"""Install RedFire's runtime into the running interpreter's environment, without vnpy's Qt stack.

Run it with the target virtualenv's python (stdlib only, Python >= 3.11):

    /opt/venv/bin/python docker/install_runtime.py deps  --project .   # third-party packages
    /opt/venv/bin/python docker/install_runtime.py app   --project .   # RedFire itself
    /opt/venv/bin/python docker/install_runtime.py check               # verify the result

`deps` installs the dependencies declared in pyproject.toml except vnpy, then vnpy with
--no-deps, then vnpy's core runtime needs (docker/requirements-vnpy-core.txt). The Dockerfile
and scripts/slim_install_check.py both use this script, so the image and the CI check install
the same set.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
VNPY_CORE_REQUIREMENTS = HERE / "requirements-vnpy-core.txt"

# The vnpy modules RedFire's adapter relies on; all must import without Qt.
VNPY_CORE_MODULES = (
    "vnpy.event",
    "vnpy.trader.constant",
    "vnpy.trader.object",
    "vnpy.trader.gateway",
    "vnpy.trader.engine",
    "vnpy.trader.utility",
    "vnpy.trader.setting",
    "vnpy.trader.logger",
    "vnpy.trader.converter",
    "vnpy.trader.app",
    "vnpy.trader.database",
    "vnpy.trader.datafeed",
)
# Must be absent from the runtime environment.
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "qdarkstyle", "plotly", "nbformat")


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def split_requirements(pyproject: Path) -> tuple[list[str], str]:
    """(dependencies other than vnpy, the vnpy requirement) from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    others: list[str] = []
    vnpy: str | None = None
    for requirement in project["dependencies"]:
        if _name(requirement) == "vnpy":
            vnpy = requirement
        else:
            others.append(requirement)
    if vnpy is None:
        raise SystemExit("pyproject.toml declares no vnpy dependency")
    return others, vnpy


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)  # noqa: S603 (our own pip command)


def install_deps(project: Path) -> None:
    others, vnpy = split_requirements(project / "pyproject.toml")
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(others) + "\n", encoding="utf-8")
        _pip("-r", str(requirements), "-r", str(VNPY_CORE_REQUIREMENTS))
    _pip("--no-deps", vnpy)


def install_app(project: Path, *, editable: bool) -> None:
    # Editable keeps alembic.ini and migrations/ next to the package, where
    # backend.core.database.migrations looks for them (PROJECT_ROOT).
    _pip("--no-deps", *(["--editable"] if editable else []), str(project))


def check() -> None:
    for module in VNPY_CORE_MODULES:
        importlib.import_module(module)
    present = [name for name in FORBIDDEN if importlib.util.find_spec(name) is not None]
    if present:
        raise SystemExit(f"the runtime must not contain the desktop stack, found: {present}")
    print(f"runtime ok: {len(VNPY_CORE_MODULES)} vnpy core modules import; no {FORBIDDEN}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["deps", "app", "check"])
    parser.add_argument("--project", type=Path, default=HERE.parent)
    parser.add_argument("--no-editable", action="store_true", help="install RedFire as a wheel")
    args = parser.parse_args()
    if args.step == "deps":
        install_deps(args.project)
    elif args.step == "app":
        install_app(args.project, editable=not args.no_editable)
    else:
        check()


if __name__ == "__main__":
    main()
