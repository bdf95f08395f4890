"""The suite's own guard: a test that reaches past loopback fails (checked without sending a byte)."""

from __future__ import annotations

import socket

import pytest

from tests import conftest


def test_connect_is_guarded() -> None:
    assert socket.socket.connect is conftest._guarded_connect
    assert socket.getaddrinfo is conftest._guarded_getaddrinfo


@pytest.mark.parametrize("host", ["203.0.113.7", "10.1.2.3", "2001:db8::1"])
def test_non_loopback_address_is_refused_before_any_packet(host: str) -> None:
    before = len(conftest.non_loopback_attempts)
    with pytest.raises(ConnectionRefusedError):
        conftest._check_address((host, 443))
    assert conftest.non_loopback_attempts[before:] == [host]
    # Forget the deliberate attempt so the autouse fixture does not fail this test.
    del conftest.non_loopback_attempts[before:]


def test_name_lookup_outside_loopback_is_refused() -> None:
    before = len(conftest.non_loopback_attempts)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("api.telegram.org", 443)
    del conftest.non_loopback_attempts[before:]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.9.9.9"])
def test_loopback_is_allowed(host: str) -> None:
    conftest._check_address((host, 80))
