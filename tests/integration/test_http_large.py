"""Large bodies stream through in bounded memory (lb's RSS sampled from /proc)."""

from __future__ import annotations

import threading
import time

import pytest
from itest import HOST, Reader, connect, free_port, http_cfg

pytestmark = pytest.mark.timeout(60)

SIZE = 200 * 1024 * 1024
RSS_LIMIT_KB = 100 * 1024


class RssWatch:
    def __init__(self, inst) -> None:
        self.inst = inst
        self.peak = 0
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.inst.rss_kb())
            except OSError:
                return
            time.sleep(0.02)

    def done(self) -> int:
        self.stop.set()
        self.th.join(2)
        return self.peak


@pytest.fixture
def big_env(lb, backend):
    b = backend("s1")
    port = free_port()
    inst = lb(http_cfg(port, f"    server s1 {HOST}:{b.port}\n"))
    return port, b, inst


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_large_download_bounded_memory(big_env, chunked):
    port, _b, inst = big_env
    watch = RssWatch(inst)
    with connect(port, timeout=20) as s:
        s.sendall(
            f"GET /big?size={SIZE}&chunked={int(chunked)} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        rd = Reader(s)
        # a slow start: the server keeps sending while nobody reads
        time.sleep(0.5)
        got = 0

        def count(b: bytes) -> None:
            nonlocal got
            got += len(b)

        r = rd.response(sink=count)
        assert r.status == 200
        assert got == SIZE
        # the connection is still usable afterwards
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert rd.response().body == b"hello from s1"
    peak = watch.done()
    assert 0 < peak < RSS_LIMIT_KB, f"lb RSS peaked at {peak} kB"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_large_upload_bounded_memory(big_env, chunked):
    port, b, inst = big_env
    watch = RssWatch(inst)
    block = b"y" * 262144
    with connect(port, timeout=20) as s:
        if chunked:
            s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            frame = b"%x\r\n%s\r\n" % (len(block), block)
            for _ in range(SIZE // len(block)):
                s.sendall(frame)
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % SIZE)
            for _ in range(SIZE // len(block)):
                s.sendall(block)
        r = Reader(s).response()
        assert r.status == 200
        assert int(r.body) == SIZE
    peak = watch.done()
    assert 0 < peak < RSS_LIMIT_KB, f"lb RSS peaked at {peak} kB"
