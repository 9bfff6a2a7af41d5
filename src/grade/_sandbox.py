"""The isolated child a submitted notebook runs in (see :mod:`src.grade`).

Two levels, the strongest the machine allows:

* ``"bubblewrap"``: the kernel runs under Debian's ``bwrap`` with new network, PID,
  IPC, UTS and user namespaces (no network at all, no view of other processes, no
  capabilities, uid ``nobody``), read-only binds of the system, the Python
  installation, the virtual environment and ``src/`` (with ``src/grade`` hidden),
  ``data/`` read-only, a private ``HOME`` and ``/tmp``, a fresh working dir. The
  course's ``solutions/``, ``lessons/``, ``tests/``, the grader's output files and
  the other submissions are simply not there. The grader talks to the kernel over
  Unix sockets (ZeroMQ ``ipc``) in a folder bound into the sandbox.
* ``"rlimits"`` (fallback when ``bwrap`` is missing or cannot create namespaces):
  the same launcher, resource limits and process-group handling, the Python-level
  network guard of :mod:`src.grade._guard`, a private ``HOME`` and working dir;
  the student's code keeps the teacher's file rights.

In both, the launcher starts a new session and applies ``resource.setrlimit``
limits (address space, CPU time, number of processes, file size, open files,
no core dumps) before the kernel starts; at the end (and on timeout) every
process of the session is killed, and every process that still carries the
notebook's secret token in its environment.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _guard

ROOT = Path(__file__).resolve().parent.parent.parent
SRC = ROOT / "src"

#: resource limits of the child (names of the ``resource`` module), overridable per call
DEFAULT_LIMITS: dict[str, int] = {
    "RLIMIT_AS": 12 * 2**30,  # address space: torch maps a lot of virtual memory
    "RLIMIT_CPU": 1800,  # seconds of CPU per process
    "RLIMIT_FSIZE": 512 * 2**20,  # largest file a notebook may write
    "RLIMIT_NOFILE": 1024,
    "RLIMIT_CORE": 0,
}
#: processes (threads included) the child may add to those its user already has
PROCESS_MARGIN = 256
_NAMESPACES = ("--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534")


@dataclass
class Isolation:
    """Which isolation the child gets, and why (shown in every report)."""

    kind: str  # "bubblewrap" or "rlimits"
    why: str = ""
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))


@functools.cache
def bwrap_usable() -> tuple[bool, str]:
    """Whether ``bwrap`` exists and can create the namespaces here (tried once)."""
    exe = shutil.which("bwrap")
    if not exe:
        return False, "bwrap not installed"
    try:
        done = subprocess.run(
            [exe, *_system_binds(), *_NAMESPACES, "--die-with-parent", "--", sys.executable, "-c", "print('ok')"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed: {exc}"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        return False, f"bwrap cannot create namespaces: {done.stderr.strip()[:200]}"
    return True, ""


def choose_isolation(requested: str = "auto") -> Isolation:
    """``"auto"``: bubblewrap when usable, else rlimits; ``"bubblewrap"`` / ``"rlimits"`` force one."""
    if requested == "rlimits":
        return Isolation("rlimits", "asked for")
    usable, why = bwrap_usable()
    if usable:
        return Isolation("bubblewrap")
    if requested == "bubblewrap":
        raise RuntimeError(why)
    return Isolation("rlimits", why)


def _python_prefixes() -> list[Path]:
    """Folders the child's Python needs: the interpreter's installation and the venv."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    return sorted(paths)


def _system_binds() -> list[str]:
    # bwrap mounts in order, a later mount on top of an earlier one: the private /tmp comes first, so a
    # clone or venv that lives under /tmp (a CI checkout) is bound back on top of it, not hidden by it
    args: list[str] = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for folder in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        if os.path.exists(folder):
            args += ["--ro-bind", folder, folder]
    for folder in _python_prefixes():
        args += ["--ro-bind", str(folder), str(folder)]
    return args


def _task_count() -> int:
    """Threads of every process of this user (what RLIMIT_NPROC counts)."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


def kernel_argv(isolation: Isolation, box: Path, workdir: Path, extra_ro: list[Path], token: str) -> list[str]:
    """The kernel command (``{connection_file}`` filled in by jupyter_client)."""
    limits = dict(isolation.limits)
    limits["RLIMIT_NPROC"] = _task_count() + PROCESS_MARGIN
    guard = inspect.getsource(_guard)
    config = {"rlimits": limits, "kernel_code": guard + "\nkernel_main()\n"}
    launch = [sys.executable, "-c", guard, "--src-grade-launch", json.dumps(config), "-f", "{connection_file}"]
    if isolation.kind != "bubblewrap":
        return launch
    args = ["bwrap", *_system_binds()]
    args += ["--ro-bind", str(SRC), str(SRC), "--tmpfs", str(SRC / "grade")]
    if (ROOT / "data").is_dir():
        args += ["--ro-bind", str(ROOT / "data"), str(ROOT / "data")]
    for path in extra_ro:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(box / "ipc"), str(box / "ipc")]
    args += ["--bind", str(box / "home"), str(box / "home"), "--bind", str(workdir), str(workdir)]
    args += ["--chdir", str(workdir), "--setenv", "HOME", str(box / "home")]
    args += [*_NAMESPACES, "--hostname", "grading"]
    args += ["--die-with-parent", "--new-session", "--"]
    return [*args, *launch]


def kernel_env(box: Path, token: str) -> dict[str, str]:
    """The child's environment: no grader secrets, a private home, proxies to a closed port, a token."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(box / "home"),
        TMPDIR="/tmp",
        SRC_NO_WIDGETS="1",
        MPLBACKEND="Agg",
        TQDM_DISABLE="1",
        PYTHONPATH=str(ROOT),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        PYTHONNOUSERSITE="1",
        JUPYTER_PLATFORM_DIRS="1",
        no_proxy="127.0.0.1,localhost,::1",
        NO_PROXY="127.0.0.1,localhost,::1",
        PIP_NO_INDEX="1",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
        NUMBA_CACHE_DIR=str(box / "home" / ".cache" / "numba"),  # a private copy of the grader's (see _run)
        SRC_GRADE_TOKEN=token,
    )
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"
    return env


def kill_everything(pgid: int | None, token: str) -> int:
    """SIGKILL the child's process group and every process carrying ``token``; how many were found."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    marker = f"SRC_GRADE_TOKEN={token}".encode()
    found = 0
    for _ in range(3):  # a process may fork while we look
        hits = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as fh:
                    if marker in fh.read():
                        hits.append(int(entry.name))
            except OSError:
                continue
        for pid in hits:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        found += len(hits)
        if not hits:
            break
        time.sleep(0.05)
    return found


def kernel_manager_class(argv: list[str], env: dict[str, str], pids: list[int], connection_file: Path) -> type:
    """An AsyncKernelManager that starts ``argv`` over ipc sockets and records the launcher's pid."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from traitlets import default

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=argv, display_name="Python 3 (grading)", language="python", env={})

    class Manager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_specs(self) -> KernelSpecManager:
            return Specs()

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("connection_file")
        def _default_connection_file(self) -> str:
            return str(connection_file)

        @default("ip")
        def _default_ip(self) -> str:
            return str(connection_file.with_suffix("")) + "-ipc"

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = dict(env)
            await super()._async_launch_kernel(kernel_cmd, **kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                pids.append(process.pid)

    return Manager


def describe(isolation: Isolation) -> str:
    """One line for reports: which isolation and, for the fallback, why."""
    if isolation.kind == "bubblewrap":
        return "bubblewrap (network, PID, user namespaces) + rlimits"
    return f"rlimits + Python network guard (no bubblewrap: {isolation.why})"
