"""A stick table: keys to per-table entry objects, with expiry and LRU eviction.

Memory is the constraint (a 1m-entry table must fit in a few hundred MB), so
each table generates its own entry class whose `__slots__` hold exactly the
stored data: a counter or tag is one slot, a rate three (`_t` tick, `_c`
current, `_p` previous; see `stick.freq`). No dict or object per counter.

Expiry is lazy. Refreshing an entry on use only writes its `exp`; the
expiry index (time buckets ordered by a `SortedList`) keeps the bucket where
the entry was last filed, and the purge re-files entries whose `exp` moved
on. Since every refresh sets `exp = now + expire`, the oldest `exp` is also
the least recently used entry, which is what a full table evicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from time import monotonic
from typing import Any

from sortedcontainers import SortedList

from stick.datatypes import DATA_TYPES, RATE_OF, U32, DataType
from stick.keys import KeyType

BUCKET_MS = 1000


def now_ms() -> int:
    return int(monotonic() * 1000)


def _compile(src: str, name: str) -> Any:
    ns: dict[str, Any] = {"monotonic": monotonic}
    exec(src, ns)  # noqa: S102 - code built from data-type names and integers only
    return ns[name]


def rate_read_src(rate: str, period: int, e: str = "e", now: str = "now", ind: str = "    ") -> str:
    """Lines computing `stick.freq.read` of rate slots `rate_*` of entry `e` at `now`
    into `v` (inline: this runs for every `sc_*_rate` fetch)."""
    p = period
    return (
        f"{ind}v = {e}.{rate}_t + {p} - {now}\n"
        f"{ind}if v < 0:\n"
        f"{ind}    v += {p}\n"
        f"{ind}    v = {e}.{rate}_c * v // {p} if v >= 0 else 0\n"
        f"{ind}else:\n"
        f"{ind}    p = {e}.{rate}_p\n"
        f"{ind}    v = {e}.{rate}_c + p * v // {p} if p else {e}.{rate}_c\n"
    )


class EntryBase:
    __slots__ = ("key", "exp", "use", "bk")


class TableError(ValueError):
    pass


def _slot(dt: DataType) -> list[str]:
    if dt.is_rate:
        return [dt.name + "_t", dt.name + "_c", dt.name + "_p"]
    return [dt.name]


class Table:
    """One `stick-table`: `name` is its proxy's (or `peers` section table's) name."""

    def __init__(
        self,
        name: str,
        ktype: KeyType,
        size: int,
        expire_ms: int = 0,
        store: dict[str, int] | None = None,
        nopurge: bool = False,
        peers: str = "",
    ) -> None:
        self.name = name
        self.ktype = ktype
        self.size = size
        self.expire = expire_ms
        self.nopurge = nopurge
        self.peers = peers
        store = store or {}
        self.stored: list[DataType] = sorted((DATA_TYPES[n] for n in store), key=lambda d: d.index)
        self._names = frozenset(d.name for d in self.stored)
        self.periods: dict[str, int] = {n: p for n, p in store.items() if DATA_TYPES[n].is_rate}
        slots: list[str] = []
        for dt in self.stored:
            slots += _slot(dt)
        self.entry_cls: type = type(f"Entry_{name}", (EntryBase,), {"__slots__": tuple(slots)})
        self._defaults = [(s, 0) for s in slots if s != "server_key"]
        if "server_key" in store:
            self._defaults.append(("server_key", ""))
        self.entries: dict[Any, Any] = {}
        self.order: SortedList = SortedList()
        self._buckets: dict[int, list[Any]] = {}
        self._bucket_order: SortedList = SortedList()
        self._exp_now = -1  # the `now` of `_exp_val`, shared by entries refreshed then
        self._exp_val = 0
        self._bumpers: dict[str, Any] = {}
        self._readers: dict[str, Any] = {}
        self._fetchers: dict[str, Any] = {}

    # ------------------------------------------------------------ entries

    def __len__(self) -> int:
        return len(self.entries)

    def has(self, name: str) -> bool:
        return name in self._names

    def lookup(self, key: Any) -> Any:
        return self.entries.get(key)

    def _file(self, e: Any) -> None:
        b = e.exp // BUCKET_MS
        lst = self._buckets.get(b)
        if lst is None:
            lst = self._buckets[b] = []
            self._bucket_order.add(b)
        lst.append(e)
        e.bk = b

    def get(self, key: Any, now: int | None = None) -> Any:
        """The entry for `key`, created if needed, its expiry refreshed.

        None when the table is full and nothing can be evicted (`nopurge`).
        A hit only writes `exp` (the expiry index catches up lazily): this
        runs for every tracked request.
        """
        e = self.entries.get(key)
        if now is None:
            now = now_ms()
        if e is not None:
            # Entries refreshed in the same ms share one `exp` int object: no
            # allocation, and freeing the old value touches hot memory.
            if now == self._exp_now:
                e.exp = self._exp_val
            elif self.expire:
                self._exp_now = now
                e.exp = self._exp_val = now + self.expire
            return e
        return self._create(key, now)

    def _create(self, key: Any, now: int) -> Any:
        if len(self.entries) >= self.size and not self._evict(now):
            return None
        e = self.entry_cls()
        e.key = key
        e.use = 0
        for s, v in self._defaults:
            setattr(e, s, v)
        self.entries[key] = e
        self.order.add(key)
        if self.expire:
            if now != self._exp_now:
                self._exp_now = now
                self._exp_val = now + self.expire
            e.exp = self._exp_val
            self._file(e)
        else:
            e.exp = 0
            e.bk = -1
        return e

    def remove(self, key: Any) -> bool:
        e = self.entries.pop(key, None)
        if e is None:
            return False
        self.order.remove(key)
        e.bk = -1
        return True

    def clear(self, pred: Callable[[Any], bool] | None = None) -> int:
        """Remove unused entries (all, or those `pred` accepts); returns how many."""
        victims = [k for k, e in self.entries.items() if e.use <= 0 and (pred is None or pred(e))]
        for k in victims:
            self.remove(k)
        return len(victims)

    # ------------------------------------------------------------ expiry

    def purge(self, now: int | None = None, budget: int = 10000) -> int:
        """Drop expired entries (re-filing refreshed ones); at most `budget` visits."""
        if not self.expire:
            return 0
        if now is None:
            now = now_ms()
        removed = 0
        order = self._bucket_order
        while order and budget > 0:
            b = order[0]
            if (b + 1) * BUCKET_MS > now:
                break
            lst = self._buckets[b]
            while lst and budget > 0:
                budget -= 1
                e = lst.pop()
                if e.bk != b or self.entries.get(e.key) is not e:
                    continue
                if e.exp <= now and e.use <= 0:
                    self.remove(e.key)
                    removed += 1
                else:
                    if e.exp <= now:
                        e.exp = now + BUCKET_MS
                    self._file(e)
            if not lst:
                del self._buckets[b]
                order.remove(b)
        return removed

    def _evict(self, now: int) -> bool:
        """Make room for one entry by dropping the least recently used one."""
        if self.nopurge or not self.expire:
            return False
        order = self._bucket_order
        while order:
            b = order[0]
            lst = self._buckets[b]
            while lst:
                e = lst.pop()
                if e.bk != b or self.entries.get(e.key) is not e:
                    continue
                if e.use <= 0 and e.exp // BUCKET_MS <= b:
                    self.remove(e.key)
                    if not lst:
                        del self._buckets[b]
                        order.remove(b)
                    return True
                self._file(e) if e.exp // BUCKET_MS > b else self._file_later(e, b)
            del self._buckets[b]
            order.remove(b)
        return False

    def _file_later(self, e: Any, b: int) -> None:
        """An entry in use cannot go; file it one bucket later."""
        e.exp = max(e.exp, (b + 1) * BUCKET_MS)
        self._file(e)

    # ------------------------------------------------------------ data

    def period(self, name: str) -> int:
        return self.periods[name]

    def read(self, e: Any, name: str, now: int | None = None) -> int:
        """The value of data type `name` (a rate is read over its period)."""
        rd = self._readers.get(name) or self.reader(name)
        if rd is None:
            raise KeyError(name)
        return rd(e, now_ms() if now is None else now)

    def reader(self, name: str) -> Callable[[Any, int], int] | None:
        """`read(entry, now)` for data type `name`, compiled once; None when not stored."""
        rd = self._readers.get(name)
        if rd is None and name in self._names:
            rd = self._readers[name] = self._compile_read(name, "e, now", "")
        return rd

    def fetcher(self, name: str) -> Callable[[Any], int] | None:
        """`read(entry)` at the current time for data type `name` (what a sample fetch
        calls); None when not stored."""
        fn = self._fetchers.get(name)
        if fn is None and name in self._names:
            clock = "    now = int(monotonic() * 1000)\n"
            fn = self._fetchers[name] = self._compile_read(name, "e", clock)
        return fn

    def _compile_read(self, name: str, params: str, clock: str) -> Callable[..., int]:
        """A reader of `name` taking `params` (a rate is read over its period at `now`,
        which `clock` sets when it is not a parameter)."""
        if DATA_TYPES[name].is_rate:
            body = clock + rate_read_src(name, self.periods[name]) + "    return v\n"
        else:
            body = f"    return e.{name}\n"
        return _compile(f"def read({params}):\n" + body, "read")

    def write(self, e: Any, name: str, value: int, now: int | None = None) -> None:
        """Set a value as `set table` does: a rate restarts with `value` events now."""
        dt = DATA_TYPES[name]
        if dt.is_rate:
            setattr(e, name + "_t", now_ms() if now is None else now)
            setattr(e, name + "_c", value & U32)
            setattr(e, name + "_p", 0)
        elif dt.name == "server_id":
            setattr(e, name, (value + 2**31) % 2**32 - 2**31)
        elif dt.kind == "str":
            setattr(e, name, str(value))
        else:
            setattr(e, name, value & U32)

    def bump_src(
        self, counter: str, e: str = "e", now: str = "now", n: str = "n", ind: str = "    "
    ) -> str:
        """Source lines adding `n` to `counter` and its rate, whichever are stored ("" when
        neither is), for code generated elsewhere that inlines the bump."""
        rate = RATE_OF.get(counter, "")
        lines = []
        if counter in self._names:
            lines.append(f"{e}.{counter} = ({e}.{counter} + {n}) & {U32}")
        if rate and rate in self._names:
            p = self.periods[rate]
            lines += [
                f"el = {now} - {e}.{rate}_t",
                f"if el >= {p}:",
                f"    if el < {2 * p}:",
                f"        {e}.{rate}_t += {p}; {e}.{rate}_p = {e}.{rate}_c",
                "    else:",
                f"        {e}.{rate}_t = {now}; {e}.{rate}_p = 0",
                f"    {e}.{rate}_c = {n}",
                "else:",
                f"    {e}.{rate}_c += {n}",
            ]
        return "".join(f"{ind}{x}\n" for x in lines)

    def bumper(self, counter: str) -> Callable[[Any, int, int], None] | None:
        """`bump(entry, now, n)` adding `n` to `counter` and its rate, whichever are stored.

        Generated once per table and counter as straight-line code: this runs for every
        tracked request.
        """
        if counter in self._bumpers:
            return self._bumpers[counter]
        body = self.bump_src(counter)
        fn = _compile("def bump(e, now, n=1):\n" + body, "bump") if body else None
        self._bumpers[counter] = fn
        return fn

    # ------------------------------------------------------------ dump

    def header(self) -> str:
        return (
            f"# table: {self.name}, type: {self.ktype.name}, "
            f"size:{self.size}, used:{len(self.entries)}\n"
        )

    def dump_line(self, e: Any, now: int | None = None) -> str:
        if now is None:
            now = now_ms()
        exp = max(0, e.exp - now) if self.expire else 0
        parts = [f"0x{id(e):x}: key={self.ktype.text(e.key)} use={e.use} exp={exp}"]
        for dt in self.stored:
            if dt.is_rate:
                parts.append(f"{dt.name}({self.periods[dt.name]})={self.read(e, dt.name, now)}")
            else:
                parts.append(f"{dt.name}={getattr(e, dt.name)}")
        return " ".join(parts) + "\n"

    def iter_entries(self) -> Iterator[Any]:
        """Entries in key order (a snapshot of the keys: safe against changes)."""
        for k in list(self.order):
            e = self.entries.get(k)
            if e is not None:
                yield e
