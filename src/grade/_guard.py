"""What runs first inside the grading child (lesson-independent; see :mod:`src.grade`).

This file is sent to the child as source text (``python -c``), it imports nothing
from ``src``: the child does not see the grader's files. ``launch`` applies the
resource limits, starts a new session and runs the kernel as its own child, so
that ``os.kill(os.getppid(), 9)`` from a notebook ends this launcher, never the
grader. The kernel starts with :func:`network_guard`, the Python-level fallback
for machines without network namespaces (bubblewrap).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from typing import Any


def network_guard() -> None:
    """Refuse Python-level sockets to anything but loopback (and DNS look-ups of other hosts).

    The guarded functions are also stored on the ``_socket`` C module, so that
    ``importlib.reload(socket)`` (which rebuilds ``socket.socket`` from ``_socket``)
    keeps the guard.
    """
    import _socket
    import errno
    import ipaddress
    import socket

    def loopback(host: Any) -> bool:
        if host is None or host in ("", "localhost", b"localhost"):
            return True
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def refuse(address: Any) -> OSError:
        return OSError(errno.ENETUNREACH, f"network access is disabled while grading ({address!r})")

    def allowed(sock: Any, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        return isinstance(address, tuple) and loopback(address[0])

    base = _socket.socket
    connect, connect_ex, sendto = base.connect, base.connect_ex, base.sendto
    getaddrinfo, gethostbyname = _socket.getaddrinfo, _socket.gethostbyname

    class GuardedSocket(base):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def connect(self, address: Any) -> Any:
            if not allowed(self, address):
                raise refuse(address)
            return connect(self, address)

        def connect_ex(self, address: Any) -> Any:
            if not allowed(self, address):
                return errno.ENETUNREACH
            return connect_ex(self, address)

        def sendto(self, data: Any, *args: Any) -> Any:
            if not allowed(self, args[-1]):
                raise refuse(args[-1])
            return sendto(self, data, *args)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"network access is disabled while grading ({host!r})")
        return getaddrinfo(host, *args, **kwargs)

    def guarded_gethostbyname(host: Any) -> Any:
        if not loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"network access is disabled while grading ({host!r})")
        return gethostbyname(host)

    GuardedSocket.__name__ = GuardedSocket.__qualname__ = "socket"
    GuardedSocket.__module__ = "_socket"
    # the C module itself: a reload of socket.py builds on these names
    _socket.socket = _socket.SocketType = GuardedSocket
    _socket.getaddrinfo, _socket.gethostbyname = guarded_getaddrinfo, guarded_gethostbyname
    import importlib

    importlib.reload(socket)


def _limits(config: dict[str, Any]) -> None:
    for name, value in config.get("rlimits", {}).items():
        number = getattr(resource, name, None)
        if number is None:
            continue
        try:
            _soft, hard = resource.getrlimit(number)
            value = int(value)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(number, (value, value))
        except (ValueError, OSError):
            pass


def launch(config: dict[str, Any], kernel_argv: list[str]) -> int:
    """Limits, a new session, then the kernel as a child; returns the kernel's exit code."""
    try:
        os.setsid()
    except OSError:
        pass  # already a session leader (jupyter_client starts a new session)
    _limits(config)
    child = subprocess.Popen([sys.executable, "-c", config["kernel_code"], *kernel_argv])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: child.send_signal(number))
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


def kernel_main() -> None:
    """Inside the kernel process: the network guard, then a normal ipykernel."""
    network_guard()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--src-grade-launch":
    raise SystemExit(launch(json.loads(sys.argv[2]), sys.argv[3:]))
