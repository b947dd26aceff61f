"""`make bench`: every benchmark in turn, each printing its own table with its baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = [
    "bench.bench_bridge",
    "bench.bench_paper",
    "bench.bench_strategy",
    "bench.bench_backtest",
    "bench.bench_cta",
    "bench.bench_cta_live",
    "bench.bench_login",
    "bench.bench_orders",
    "bench.bench_restart",
    "bench.bench_ws",
    "bench.bench_history",
    "bench.bench_optimization",
    "bench.bench_research_jobs",
]


def main() -> int:
    """Run the benchmarks that exist; a failing one does not stop the others."""
    root = Path(__file__).resolve().parent.parent
    failed = []
    for module in BENCHMARKS:
        if not (root / (module.replace(".", "/") + ".py")).exists():
            continue
        print(f"\n===== {module} =====", flush=True)
        if subprocess.run([sys.executable, "-m", module], cwd=root, check=False).returncode:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
