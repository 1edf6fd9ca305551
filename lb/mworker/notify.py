"""systemd's sd_notify protocol for ``-Ws``: datagrams to ``$NOTIFY_SOCKET``.

Without the variable (not started by systemd) every call is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import socket


def sd_notify(**fields: str | int) -> bool:
    """Send ``KEY=value`` lines (``ready=1`` becomes ``READY=1``); True if sent."""
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]  # abstract namespace
    message = "".join(f"{key.upper()}={value}\n" for key, value in fields.items())
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), path)
        return True
    return False
