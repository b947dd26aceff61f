"""A newcomer's first `make run`, timed: a fresh copy of the project, a cold install, a boot.

    python scripts/slim_install_check.py            # `make slim-check`; needs the package index

Steps, all outside the project's own .venv: copy the project's files (tracked and new, not
ignored) into a temporary directory; run `make run` there on a free loopback port in production
mode with a SQLite file, which creates .venv, installs the runtime with
docker/install_runtime.py as the Dockerfile does (vnpy without its Qt desktop, no test or lint
tools), migrates and serves; time it until /health/ready answers 200; expect 200 from
/health/live and /metrics (with its METRICS__TOKEN) as well; stop it; check vnpy's core modules
import and the Qt stack is absent; report the venv's size. Targets: ready within
COLD_RUN_TARGET_SECONDS (60) and a venv of at most VENV_TARGET_MIB (400). Exit 0 only if
everything answered and the venv is within its size; the time depends on the machine's load and
package index, so a slow run is reported, not failed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLD_RUN_TARGET_SECONDS = 60
VENV_TARGET_MIB = 400


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


def copy_project(target: Path) -> None:
    """The project's files as a fresh clone (plus uncommitted work) would have them."""
    command = [
        "git",
        "-C",
        str(REPO),
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]
    listed = subprocess.run(command, check=True, capture_output=True).stdout.decode()  # noqa: S603
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"`make run` exited {process.returncode} before answering")
        try:
            if get(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not answer 200 within {deadline_s}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `make` and the server it started (their own process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=45)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _echo(process: subprocess.Popen[bytes], started: float) -> None:
    """`make run`'s output, each line with the seconds since it started (where time goes)."""
    assert process.stdout is not None
    for line in process.stdout:
        text = line.decode(errors="replace").rstrip()
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)


def cold_run(project: Path, python: str) -> float:
    """`make run` from nothing to /health/ready; returns the seconds it took."""
    home = project.parent / "home"
    home.mkdir()
    port = free_port()
    metrics_token = secrets.token_urlsafe(24)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # vnpy's .vntrader goes here, as in the image
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "METRICS__TOKEN": metrics_token,
        "DATABASE_URL": f"sqlite+aiosqlite:///{project.parent / 'redfire.db'}",
        "LOG_LEVEL": "WARNING",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    base = f"http://127.0.0.1:{port}"
    step(f"make run on {base} (cold: no .venv)")
    started = time.monotonic()
    make = shutil.which("make") or "make"
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [make, "--no-print-directory", "run", f"PYTHON={python}", "HOST=127.0.0.1",
         f"PORT={port}"],
        env=env,
        cwd=project,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    echo = threading.Thread(target=_echo, args=(process, started), daemon=True)
    echo.start()
    try:
        wait_ready(f"{base}/health/ready", process, deadline_s=900)
        elapsed = time.monotonic() - started
        answers = {path: get(base + path) for path in ("/health/live", "/health/ready")}
        answers["/metrics"] = get(f"{base}/metrics", metrics_token)
        print(f"answers: {answers}", flush=True)
        if set(answers.values()) != {200}:
            raise SystemExit(f"expected 200 everywhere, got {answers}")
    finally:
        stop(process)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description="cold `make run`, timed, and the venv's size")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="redfire-slim-"))
    try:
        project = tmp / "redfire"
        step(f"a fresh copy of the project in {project}")
        copy_project(project)
        seconds = cold_run(project, args.python)
        venv = project / ".venv"
        step("vnpy core imports, no Qt")
        check_home = tmp / "check-home"
        check_home.mkdir()
        installer = project / "docker" / "install_runtime.py"
        check_env = {**os.environ, "HOME": str(check_home)}
        sh(venv / "bin" / "python", installer, "check", env=check_env, cwd=tmp)
        if not (check_home / ".vntrader").is_dir():
            raise SystemExit("vnpy did not put its .vntrader folder under HOME")
        size = size_of(venv)
        site = next((venv / "lib").glob("python3*/site-packages"))
        biggest = sorted(
            ((size_of(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True
        )[:6]
        mib = size / 2**20
        step("result")
        print(f"slim venv size: {mib:.0f} MiB ({size} bytes) at {venv}")
        print("largest: " + ", ".join(f"{name} {n / 2**20:.0f} MiB" for n, name in biggest))
        fast, small = seconds <= COLD_RUN_TARGET_SECONDS, mib <= VENV_TARGET_MIB
        print(
            f"  [{'ok' if fast else 'MISS'}] cold `make run` to /health/ready: {seconds:.0f} s "
            f"(target <= {COLD_RUN_TARGET_SECONDS} s)"
        )
        print(f"  [{'ok' if small else 'MISS'}] runtime venv: {mib:.0f} MiB (target <= 400 MiB)")
        if not small:
            return 1
        print("slim install check passed")
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
