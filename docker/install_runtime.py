"""Install RedFire's runtime into the running interpreter's environment, without vnpy's Qt stack.

Run it with the target virtualenv's python (stdlib only, Python >= 3.11):

    /opt/venv/bin/python docker/install_runtime.py deps  --project .   # third-party packages
    /opt/venv/bin/python docker/install_runtime.py app   --project .   # RedFire itself
    /opt/venv/bin/python docker/install_runtime.py check               # verify the result
    .venv/bin/python docker/install_runtime.py dev --project .         # + test and lint tools

`deps` installs the dependencies declared in pyproject.toml except vnpy's own packages
(`vnpy`, `vnpy_*`), then those with --no-deps, then vnpy's core runtime needs
(docker/requirements-vnpy-core.txt). `dev` does the same for the `dev` extras. The Dockerfile,
the Makefile (`make run`, `make test`) and scripts/slim_install_check.py all use this script, so
the image, a developer's venv and the CI check install the same set.
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
from typing import Any

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
    # CTA strategies: the template, its constants and every strategy vnpy_ctastrategy ships.
    "vnpy_ctastrategy",
    "vnpy_ctastrategy.template",
    "vnpy_ctastrategy.base",
    "vnpy_ctastrategy.strategies.double_ma_strategy",
    "vnpy_ctastrategy.strategies.atr_rsi_strategy",
)
# Must be absent from the runtime environment.
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "qdarkstyle", "plotly", "nbformat")


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _is_vnpy_package(requirement: str) -> bool:
    name = _name(requirement)
    return name == "vnpy" or name.startswith("vnpy-")


def split_requirements(requirements: list[str]) -> tuple[list[str], list[str]]:
    """(requirements installed with their dependencies, vnpy packages installed without)."""
    others = [r for r in requirements if not _is_vnpy_package(r)]
    return others, [r for r in requirements if _is_vnpy_package(r)]


def _project(pyproject: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return project


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)  # noqa: S603 (our own pip command)


def _install(requirements: list[str], *extra_files: Path) -> None:
    others, vnpy_packages = split_requirements(requirements)
    with tempfile.TemporaryDirectory() as tmp:
        listed = Path(tmp) / "requirements.txt"
        listed.write_text("\n".join(others) + "\n", encoding="utf-8")
        _pip("-r", str(listed), *(arg for path in extra_files for arg in ("-r", str(path))))
    if vnpy_packages:
        _pip("--no-deps", *vnpy_packages)


def install_deps(project: Path) -> None:
    requirements = _project(project / "pyproject.toml")["dependencies"]
    if not any(_name(r) == "vnpy" for r in requirements):
        raise SystemExit("pyproject.toml declares no vnpy dependency")
    _install(requirements, VNPY_CORE_REQUIREMENTS)


def install_dev(project: Path) -> None:
    """The `dev` extras (tests, lint), vnpy's packages among them without their dependencies."""
    _install(_project(project / "pyproject.toml")["optional-dependencies"]["dev"])


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
    if importlib.util.find_spec("backend") is not None:
        check_cta_backtest()


def check_cta_backtest() -> None:
    """Every shipped CTA strategy is offered, and DoubleMaStrategy backtests, in this set."""
    registry = importlib.import_module("backend.services.strategy.registry").default_registry()
    cta = [entry for entry in registry.describe() if entry.kind == "cta"]
    broken = {entry.class_name: entry.reason for entry in cta if not entry.available}
    if len(cta) < 8 or broken:
        raise SystemExit(f"CTA strategies missing or unavailable: {len(cta)} listed, {broken}")
    backtest = importlib.import_module("backend.services.cta.backtest")
    synthetic = importlib.import_module("backend.services.backtest.synthetic")
    daily = importlib.import_module("backend.services.backtest.daily")
    bars = synthetic.random_walk_bars(3000)
    engine = backtest.CtaBacktestEngine(daily.CostModel())
    double_ma = registry.entry("DoubleMaStrategy").strategy_class
    trades = len(engine.run(double_ma, backtest.CtaRun({}), bars).fills.price)
    if not trades:
        raise SystemExit("DoubleMaStrategy made no trade in the slim runtime")
    offered = f"{len(cta)} vnpy CTA strategies offered"
    print(f"cta ok: {offered}; DoubleMaStrategy backtest, {trades} trades")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["deps", "app", "check", "dev"])
    parser.add_argument("--project", type=Path, default=HERE.parent)
    parser.add_argument("--no-editable", action="store_true", help="install RedFire as a wheel")
    args = parser.parse_args()
    if args.step == "deps":
        install_deps(args.project)
    elif args.step == "app":
        install_app(args.project, editable=not args.no_editable)
    elif args.step == "dev":
        install_dev(args.project)
    else:
        check()


if __name__ == "__main__":
    main()
