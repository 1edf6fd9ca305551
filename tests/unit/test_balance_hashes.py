"""Hash function vectors (cross-checked with a C build of the same formulas;
end-to-end agreement with HAProxy is in test_balance_haproxy.py)."""

from __future__ import annotations

import zlib

import pytest

from lb.balance.chash import node_key
from lb.balance.hashes import HASH_FUNCTIONS, crc32, djb2, full_hash, sdbm, wt6

VECTORS = [
    # key, sdbm, djb2, wt6, crc32
    (b"", 0, 5381, 4187620192, 0),
    (b"a", 97, 177670, 1900802597, 3904355907),
    (b"/index.html", 858007926, 3776231887, 822151038, 3928116034),
    (b"hello world", 430867652, 894552257, 1866899626, 222957957),
    (b"caf\xc3\xa9\xff", 975159473, 4125378266, 2912783819, 1150544449),
]


@pytest.mark.parametrize(("key", "h_sdbm", "h_djb2", "h_wt6", "h_crc32"), VECTORS)
def test_vectors(key: bytes, h_sdbm: int, h_djb2: int, h_wt6: int, h_crc32: int) -> None:
    assert sdbm(key) == h_sdbm
    assert djb2(key) == h_djb2
    assert wt6(key) == h_wt6
    assert crc32(key) == h_crc32 == zlib.crc32(key)


def test_full_hash_vectors() -> None:
    assert full_hash(0) == 2874071335
    assert full_hash(1) == 881230262
    assert full_hash(4096) == 1237450891
    assert full_hash(0xFFFFFFFF) == 2120532354
    assert full_hash(sdbm(b"/index.html")) == 4217574924


def test_results_are_32_bit() -> None:
    key = bytes(range(256)) * 40
    for fn in HASH_FUNCTIONS.values():
        assert 0 <= fn(key) <= 0xFFFFFFFF
    for a in (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 40):
        assert 0 <= full_hash(a) <= 0xFFFFFFFF


def test_full_hash_is_a_bijection_on_node_ids() -> None:
    # ring points never collide for distinct (id, index) pairs
    keys = {node_key(puid, i) for puid in range(1, 21) for i in range(64)}
    assert len(keys) == 20 * 64


def test_registry_names() -> None:
    assert sorted(HASH_FUNCTIONS) == ["crc32", "djb2", "sdbm", "wt6"]
