"""Check statuses and the result of one check, with HAProxy's wording.

The short codes (``L4OK`` ...) are what ``show stat`` prints in ``check_status``;
the long descriptions are what it prints in ``check_desc`` and what the logs
quote after ``reason:``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Result classes, as HAProxy groups statuses when it updates the health counter.
RES_UNKNOWN = 0
RES_NEUTRAL = 1
RES_FAILED = 2
RES_PASSED = 3
RES_CONDPASS = 4

# short code -> (result class, long description)
STATUSES: dict[str, tuple[int, str]] = {
    "UNK": (RES_UNKNOWN, "Unknown"),
    "INI": (RES_UNKNOWN, "Initializing"),
    "CHECKED": (RES_NEUTRAL, "No status change"),
    "HANA": (RES_FAILED, "Health analyze"),
    "SOCKERR": (RES_FAILED, "Socket error"),
    "L4OK": (RES_PASSED, "Layer4 check passed"),
    "L4TOUT": (RES_FAILED, "Layer4 timeout"),
    "L4CON": (RES_FAILED, "Layer4 connection problem"),
    "L6OK": (RES_PASSED, "Layer6 check passed"),
    "L6TOUT": (RES_FAILED, "Layer6 timeout"),
    "L6RSP": (RES_FAILED, "Layer6 invalid response"),
    "L7TOUT": (RES_FAILED, "Layer7 timeout"),
    "L7RSP": (RES_FAILED, "Layer7 invalid response"),
    "L7OK": (RES_PASSED, "Layer7 check passed"),
    "L7OKC": (RES_CONDPASS, "Layer7 check conditionally passed"),
    "L7STS": (RES_FAILED, "Layer7 wrong status"),
    "PROCERR": (RES_FAILED, "External check error"),
    "PROCTOUT": (RES_FAILED, "External check timeout"),
    "PROCOK": (RES_PASSED, "External check passed"),
}

# Statuses for which HAProxy prints the response code (those ranked after its
# internal L57DATA marker).
CODE_STATUSES = frozenset({"L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"})

# HAProxy keeps at most 127 characters of the info text (HCHK_DESC_LEN - 1).
INFO_MAX = 127


def status_description(status: str) -> str:
    """Long description of a short status code (``check_desc``)."""
    entry = STATUSES.get(status)
    return entry[1] if entry else "Unknown"


def status_result(status: str) -> int:
    entry = STATUSES.get(status)
    return entry[0] if entry else RES_UNKNOWN


def ascii_encode(text: str, quote: str = '"') -> str:
    """Escape like HAProxy does when quoting info in logs: non-printable bytes,
    ``<``, ``>`` and the quote character become ``<HH>``."""
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        if byte < 32 or byte > 126 or ch in "<>" or ch == quote:
            out.append(f"<{byte:02X}>")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class CheckResult:
    """Outcome of one check run.

    ``info`` is HAProxy's per-check text (``last_chk`` in show stat, quoted as
    ``info: "..."`` in logs); ``desc`` is the long status description.
    ``code`` is set only for statuses where HAProxy reports it (L7OK, L7OKC,
    L7STS); ``duration_ms`` is -1 when no duration applies.
    """

    status: str
    code: int | None = None
    duration_ms: int = 0
    passed: bool = False
    info: str = ""
    desc: str = ""

    @classmethod
    def make(
        cls, status: str, *, code: int | None = None, duration_ms: int = 0, info: str = ""
    ) -> CheckResult:
        """Build a result whose ``passed`` and ``desc`` follow from ``status``."""
        res = status_result(status)
        if status not in CODE_STATUSES:
            code = None
        return cls(
            status=status,
            code=code,
            duration_ms=duration_ms,
            passed=res in (RES_PASSED, RES_CONDPASS),
            info=info[:INFO_MAX],
            desc=status_description(status),
        )

    @property
    def result_class(self) -> int:
        return status_result(self.status)

    @property
    def conditional(self) -> bool:
        return self.result_class == RES_CONDPASS

    def reason(self) -> str:
        """``reason: <desc>[, code: N][, info: "..."][, check duration: Nms]``."""
        parts = [f"reason: {status_description(self.status)}"]
        if self.status in CODE_STATUSES:
            parts.append(f"code: {self.code if self.code is not None else 0}")
        if self.info:
            parts.append(f'info: "{ascii_encode(self.info)}"')
        if self.duration_ms >= 0:
            parts.append(f"check duration: {self.duration_ms}ms")
        return ", ".join(parts)
