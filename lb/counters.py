"""Counters shared by frontends, backends and servers, cheap enough for the hot path.

Rates follow HAProxy's `freq_ctr` idea: the count of the current second plus
the previous second's, weighted by how much of the current second is left.
The clock is a module-level integer second refreshed by the loop's coarse
ticker (`tick`), so counting an event costs an attribute read and an add.
"""

from __future__ import annotations

import time

_now_sec: int = int(time.monotonic())


def tick() -> None:
    """Refresh the coarse second clock; the state's ticker calls this every 100 ms."""
    global _now_sec
    _now_sec = int(time.monotonic())


def now_sec() -> int:
    return _now_sec


class RateCounter:
    """Events per second over a sliding second, with the maximum seen.

    Within one second `curr + prev` only grows, so the highest value an event of the
    second reached is the last one: the maximum is folded in when the second changes
    (or read), and counting an event in the current second is one add. Callers on the
    hot path inline that: `if rc.sec == counters._now_sec: rc.curr += 1 else: rc.add()`.
    """

    __slots__ = ("sec", "curr", "prev", "_max", "_base")

    def __init__(self) -> None:
        self.sec = _now_sec
        self.curr = 0
        self.prev = 0
        self._max = 0
        # `curr` when the maximum was last cleared in this second (-1: not cleared in it):
        # only events counted after that may raise the maximum
        self._base = -1

    def add(self, n: int = 1) -> None:
        sec = _now_sec
        if sec != self.sec:
            if self.curr > self._base:
                r = self.curr + self.prev
                if r > self._max:
                    self._max = r
            self.prev = self.curr if sec == self.sec + 1 else 0
            self.curr = 0
            self.sec = sec
            self._base = -1
        self.curr += n
        if not n and self.curr <= self._base:  # add(0) right after a clear still counts
            self._base = self.curr - 1

    @property
    def max(self) -> int:
        if self.curr > self._base:
            r = self.curr + self.prev
            if r > self._max:
                return r
        return self._max

    def rate(self) -> int:
        now = time.monotonic()
        sec = int(now)
        if sec == self.sec:
            frac = 1.0 - (now - sec)
            return self.curr + int(self.prev * frac)
        if sec == self.sec + 1:
            return int(self.curr * (1.0 - (now - sec)))
        return 0

    def clear_max(self) -> None:
        self._max = 0
        self._base = self.curr


class SlidingAverage:
    """HAProxy's swrate: an average over about the last N samples, O(1) per sample."""

    __slots__ = ("sum", "n")

    def __init__(self, n: int = 1024) -> None:
        self.sum = 0
        self.n = n

    def add(self, v: int) -> None:
        self.sum = self.sum - (self.sum + self.n - 1) // self.n + v

    def value(self, count: int) -> int:
        if count <= 0:
            return 0
        n = min(count, self.n)
        return (self.sum + n - 1) // n if count < self.n else self.sum // self.n


class Counters:
    """The counters `show stat` reports for one frontend, backend or server."""

    __slots__ = (
        "cur_sess",
        "max_sess",
        "cum_sess",
        "cum_conn",
        "bytes_in",
        "bytes_out",
        "denied_req",
        "denied_resp",
        "failed_req",
        "failed_conns",
        "failed_resp",
        "retries",
        "redispatches",
        "cum_lbconn",
        "hrsp",
        "cum_req",
        "cli_aborts",
        "srv_aborts",
        "last_sess",
        "sess_rate",
        "req_rate",
        "conn_rate",
        "nbpend",
        "nbpend_max",
        "qtime",
        "ctime",
        "rtime",
        "ttime",
        "qtime_max",
        "ctime_max",
        "rtime_max",
        "ttime_max",
        "intercepted",
        "denied_conn",
        "denied_sess",
        "failed_rewrites",
        "internal_errors",
        "connect",
        "reuse",
        "ssl_sess",
        "ssl_reused_sess",
        "ssl_failed_handshake",
        "h1_open_conns",
        "h1_open_streams",
        "h1_total_conns",
        "h1_total_streams",
        "h1_bytes_in",
        "h1_bytes_out",
        "comp_in",  # HTTP compression (lb.http.compression): bytes into the compressor,
        "comp_out",  # bytes out of it,
        "comp_byp",  # bytes that bypassed it,
        "comp_rsp",  # responses compressed
        "cache_lookups",  # `http-request cache-use` (lb.http.cache): requests looked up,
        "cache_hits",  # and answered from the cache
    )

    def __init__(self) -> None:
        self.clear_all()

    def clear_all(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)
        self.hrsp = [0, 0, 0, 0, 0, 0]  # 1xx 2xx 3xx 4xx 5xx other
        self.sess_rate = RateCounter()
        self.req_rate = RateCounter()
        self.conn_rate = RateCounter()
        self.qtime = SlidingAverage()
        self.ctime = SlidingAverage()
        self.rtime = SlidingAverage()
        self.ttime = SlidingAverage()
        self.last_sess = -1

    def clear_max(self) -> None:
        """`clear counters`: only the maxima are reset."""
        self.max_sess = 0
        self.nbpend_max = 0
        self.sess_rate.clear_max()
        self.req_rate.clear_max()
        self.conn_rate.clear_max()
        self.qtime_max = self.ctime_max = self.rtime_max = self.ttime_max = 0
