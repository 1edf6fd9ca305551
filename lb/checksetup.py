"""Builds and starts a server's health check from the proxy's check settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lb.proxy import Proxy
    from lb.state import State


def start_check(state: State, p: Proxy, s: Any) -> Any:
    return None
