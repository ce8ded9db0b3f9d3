"""A real Milvus standalone server (PyPI ``milvus``, 2.3.x) on loopback for the tests.

``milvus-server`` picks each listening port from the one it is given upward, so every port
gets a free one and the proxy port it really bound is read back from the config it wrote.
Its child ``milvus run standalone`` outlives SIGTERM to the launcher, so the launcher runs
in its own session and the whole process group is stopped: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_PORT_OPTIONS = (
    "proxy-port",
    "proxy-internal-port",
    "etcd-port",
    "root-coord-port",
    "query-coord-port",
    "query-node-port",
    "index-coord-port",
    "index-node-port",
    "data-coord-port",
    "data-node-port",
)
START_TIMEOUT_S = 180.0


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def server_command() -> list[str] | None:
    """The ``milvus-server`` launcher of this interpreter's environment, if installed."""
    launcher = Path(sys.executable).with_name("milvus-server")
    if launcher.exists():
        return [str(launcher)]
    found = shutil.which("milvus-server")
    return [found] if found else None


def _proxy_port(data: Path) -> int | None:
    """The proxy port written in ``configs/milvus.yaml`` (``proxy:`` then ``  port: N``)."""
    config = data / "configs" / "milvus.yaml"
    if not config.exists():
        return None
    section = ""
    for line in config.read_text().splitlines():
        if re.match(r"\w", line):
            section = line.split(":")[0]
        found = re.match(r"  port: (\d+)", line)
        if section == "proxy" and found:
            return int(found.group(1))
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        process.poll()
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _ready(uri: str) -> bool:
    from pymilvus import MilvusClient

    try:
        client = MilvusClient(uri=uri, timeout=5)
    except Exception:
        return False
    try:
        client.list_collections()
        return True
    except Exception:
        return False
    finally:
        client.close()


def start_server(data: Path) -> Iterator[str]:
    """Run a server on a fresh data directory; yields its uri and always stops it."""
    command = server_command()
    if command is None:
        pytest.skip(
            "milvus-server is not installed (it comes with the dev group: pip install milvus)"
        )
    ports = _free_ports(len(_PORT_OPTIONS))
    options = [f"--{name}={port}" for name, port in zip(_PORT_OPTIONS, ports, strict=True)]
    log = (data.parent / f"{data.name}.log").open("wb")
    process = subprocess.Popen(
        [*command, "--data", str(data), *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            port = _proxy_port(data)
            if port is not None and _ready(f"http://127.0.0.1:{port}"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (data.parent / f"{data.name}.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"milvus-server did not become ready (port {port}):\n{tail}")
            time.sleep(1.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus standalone server for the whole session: its ``http://127.0.0.1:PORT`` uri.

    ``EMBEDKIT_TEST_MILVUS_URI`` names a running server to use instead (one machine runs one
    ``milvus-server`` at a time: its embedded etcd and metrics ports are fixed).
    """
    given = os.environ.get("EMBEDKIT_TEST_MILVUS_URI")
    if given:
        yield given
        return
    yield from start_server(tmp_path_factory.mktemp("milvus-server") / "data")
