"""Build RedFire's slim runtime (the Dockerfile's dependency set) in a fresh virtualenv, boot
the app from it, and report the virtualenv's size.

    python scripts/slim_install_check.py            # `make slim-check`; needs PyPI access

Steps, all outside the project's own .venv: create a venv in a temporary directory; install
with docker/install_runtime.py exactly as the Dockerfile does (pyproject dependencies minus
vnpy, vnpy --no-deps, vnpy's core runtime list, then RedFire); check vnpy's core modules import
and the Qt desktop stack is absent; run `redfire migrate` on a SQLite file; start
`redfire serve` (the image's command) on a free loopback port in production mode; expect 200
from /health/live, /health/ready and /metrics (with its METRICS__TOKEN); stop it; print the
size. Exit 0 only if all passed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALLER = REPO / "docker" / "install_runtime.py"


def step(message: str) -> None:
    print(f"== {message}", flush=True)


def sh(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(c) for c in command], check=True, env=env, cwd=cwd)  # noqa: S603


def size_of(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (loopback)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_live(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"redfire serve exited {process.returncode} before answering")
        try:
            if get(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not answer 200 within {deadline_s}s")


def boot(venv: Path, workdir: Path) -> None:
    home = workdir / "home"
    home.mkdir(parents=True)
    metrics_token = secrets.token_urlsafe(24)
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),  # vnpy's .vntrader goes here, as in the image
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "METRICS__TOKEN": metrics_token,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'redfire.db'}",
        "LOG_LEVEL": "WARNING",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    step("redfire migrate")
    sh(venv / "bin" / "redfire", "migrate", env=env, cwd=workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    step(f"redfire serve on {base}")
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [str(venv / "bin" / "redfire"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--timeout-graceful-shutdown", "15"],
        env=env,
        cwd=workdir,
    )  # fmt: skip
    try:
        wait_live(f"{base}/health/live", process, deadline_s=90)
        answers = {path: get(base + path) for path in ("/health/live", "/health/ready")}
        answers["/metrics"] = get(f"{base}/metrics", metrics_token)
        print(f"answers: {answers}", flush=True)
        if set(answers.values()) != {200}:
            raise SystemExit(f"expected 200 everywhere, got {answers}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    vntrader = home / ".vntrader"
    print(f"vnpy folder under HOME after serving: {'present' if vntrader.is_dir() else 'absent'}")


def main() -> int:
    parser = argparse.ArgumentParser(description="slim runtime install + boot check")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="redfire-slim-"))
    try:
        venv = tmp / "venv"
        started = time.monotonic()
        step(f"fresh virtualenv in {venv}")
        sh(args.python, "-m", "venv", venv)
        python = venv / "bin" / "python"
        step("dependencies (as the Dockerfile installs them)")
        sh(python, INSTALLER, "deps", "--project", REPO)
        step("RedFire")
        sh(python, INSTALLER, "app", "--project", REPO)
        step("vnpy core imports, no Qt")
        check_home = tmp / "check-home"
        check_home.mkdir()
        sh(python, INSTALLER, "check", env={**os.environ, "HOME": str(check_home)}, cwd=tmp)
        if not (check_home / ".vntrader").is_dir():
            raise SystemExit("vnpy did not put its .vntrader folder under HOME")
        boot(venv, tmp / "run")
        size = size_of(venv)
        site = next((venv / "lib").glob("python3*/site-packages"))
        biggest = sorted(
            ((size_of(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True
        )[:6]
        step("result")
        print(f"slim venv size: {size / 2**20:.0f} MiB ({size} bytes) at {venv}")
        print("largest: " + ", ".join(f"{name} {n / 2**20:.0f} MiB" for n, name in biggest))
        print(f"slim install check passed in {time.monotonic() - started:.0f}s")
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
