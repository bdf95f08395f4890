"""Test-wide guards: no test may leave the loopback interface."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bot.log_safety import clamp_library_loggers

os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"
for _proxy_var in (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
):
    os.environ.pop(_proxy_var, None)

# Libraries that print request URLs and payloads (httpx logs URLs at INFO) stay above the levels
# where a key in a query string or a Bot API URL would reach captured test output.
clamp_library_loggers()

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
non_loopback_attempts: list[str] = []


def _is_loopback(host: Any) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        non_loopback_attempts.append(str(address[0]))
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address[0]}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, bytes):
        host = host.decode()
    if not _is_loopback(host):
        non_loopback_attempts.append(str(host))
        raise socket.gaierror(f"tests may only resolve loopback names, not {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _no_network_escape() -> Iterator[None]:
    """Fail the test that tried to reach a non-loopback address, even if it swallowed the error."""
    before = len(non_loopback_attempts)
    yield
    escaped = non_loopback_attempts[before:]
    if escaped:
        pytest.fail(f"test tried to reach non-loopback addresses: {sorted(set(escaped))}")
