"""Install RedFire's runtime into the running interpreter's environment, without vnpy's Qt stack.

Run it with the target virtualenv's python (stdlib only, Python >= 3.11):

    /opt/venv/bin/python docker/install_runtime.py deps  --project .   # third-party packages
    /opt/venv/bin/python docker/install_runtime.py app   --project .   # RedFire itself
    /opt/venv/bin/python docker/install_runtime.py check               # verify the result

`deps` installs the dependencies declared in pyproject.toml except vnpy and vnpy_ctastrategy,
then those two with --no-deps, then vnpy's core runtime needs (docker/requirements-vnpy-core.txt).
vnpy_ctastrategy's metadata pulls in pandas and plotly for its BacktestingEngine and charts;
RedFire uses its CtaTemplate and strategies only, which need neither. The Dockerfile
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
    # CTA strategies: the template, its constants and every strategy vnpy_ctastrategy ships.
    "vnpy_ctastrategy",
    "vnpy_ctastrategy.template",
    "vnpy_ctastrategy.base",
    "vnpy_ctastrategy.strategies.double_ma_strategy",
    "vnpy_ctastrategy.strategies.atr_rsi_strategy",
)
# Installed with --no-deps: their declared dependencies are the desktop and charting stacks.
NO_DEPS = ("vnpy", "vnpy-ctastrategy")
# Must be absent from the runtime environment.
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "qdarkstyle", "plotly", "nbformat")


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def split_requirements(pyproject: Path) -> tuple[list[str], list[str]]:
    """(dependencies to install with theirs, the NO_DEPS requirements) from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    others: list[str] = []
    bare: dict[str, str] = {}
    for requirement in project["dependencies"]:
        if _name(requirement) in NO_DEPS:
            bare[_name(requirement)] = requirement
        else:
            others.append(requirement)
    missing = [name for name in NO_DEPS if name not in bare]
    if missing:
        raise SystemExit(f"pyproject.toml declares no {', '.join(missing)} dependency")
    return others, [bare[name] for name in NO_DEPS]


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)  # noqa: S603 (our own pip command)


def install_deps(project: Path) -> None:
    others, bare = split_requirements(project / "pyproject.toml")
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(others) + "\n", encoding="utf-8")
        _pip("-r", str(requirements), "-r", str(VNPY_CORE_REQUIREMENTS))
    _pip("--no-deps", *bare)


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
