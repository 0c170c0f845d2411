"""Order round trip, signing and push-to-state on loopback against the fake private venue (G7, G8).

    .venv/bin/python bench/orders.py [--orders N] [--calls N]

The fake venue (`python -m tests.fake_mexc_private`) runs as its own process on 127.0.0.1, answering
at once (processing 0 ms, rate limits off). Three sides take turns, one order each, so a load spike
hits them alike:

- **fx (journal on disk)** — the user's figure: `LiveBroker.submit(ask)` → pre-trade checks → the
  intent written to the SQLite journal (WAL, `synchronous=FULL`: fsynced before the send) → budget
  → sign → POST → 200 parsed → `on_ack` → ACCEPTED written to the journal (committed to the WAL,
  not waiting for the disk) → the broker's order event. The journal is a file under bench/.work.
- **fx (journal on tmpfs)** — the same code with the journal in /dev/shm, where fsync costs nothing:
  the difference is the price of durability (the intent's fsync).
- **bare httpx** — the peer: `httpx.AsyncClient.post` of the same signed request (urlencode + HMAC,
  the API-key header), its JSON parsed, nothing written.

The budget of the fx client is the real `OrderBudget` with rates no run reaches (its code runs, it
never waits): at a user's pace of a few orders a second it never makes one wait either.

Signing: `bench/orders_signing.py`'s two sides (fx's `order_params` + `signed_query` against
urlencode + hmac). Push-to-state: the fx side again with the user stream connected to the fake;
each order's pushes are timed from the frame handed over by the socket (`UserStream._on_push`) to
its return, i.e. decoded, the broker's order state moved and journaled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the fake venue lives in tests/

from orders_signing import fx_sign, peer_sign  # noqa: E402
from orders_signing import measure as measure_signing  # noqa: E402
from report import Layout, Line, Run, argument_parser  # noqa: E402

from fxcli.exchange.mexc_private.budget import OrderBudget  # noqa: E402
from fxcli.exchange.mexc_private.client import PrivateClient  # noqa: E402
from fxcli.exchange.mexc_private.keys import ApiKeys  # noqa: E402
from fxcli.exchange.mexc_private.userstream import UserStream  # noqa: E402
from fxcli.execution.broker import LiveBroker, OrderAsk, OrderEvent, OrderOutcome  # noqa: E402
from fxcli.execution.journal import Journal  # noqa: E402
from fxcli.execution.risk import RiskLimits  # noqa: E402
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET  # noqa: E402
from tests.live.private_venue import btc_like, venue_process  # noqa: E402

KEYS = ApiKeys(DOC_KEY, DOC_SECRET)
NOTIONAL = Decimal(10)
ASK = OrderAsk("BTCUSDT", "open", NOTIONAL, Decimal("61800"), 0)
UNREACHED = 1e9  # budget rates (per s) no run reaches: the budget's code runs, it never waits
LIMITS = RiskLimits(Decimal(1000), Decimal(10) ** 9, 1000, Decimal(10) ** 9)
TARGET_RATIO = 1.25
TARGET_SIGN_US = 20.0
TARGET_PUSH_US = 200.0
WORK = REPO / "bench" / ".work"
SHM = Path("/dev/shm")
ON_DISK = "fx, journal on disk"
TMPFS = "fx, journal on tmpfs"
PEER = "bare httpx"
LAYOUT = Layout(
    "ratio = fx / peer (lower is better; target fx <= 1.25x the bare client). Round trip: decision → "
    "signed POST → 200 parsed → order ACCEPTED in fx (journal written); peer: the same signed POST "
    "and its JSON parsed",
    fx_width=10,
    peer_name_width=22,
    peer_width=10,
    ratio_width=6,
    script="bench/orders.py",
    not_met="NOT met",
)


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (1..99) of `values`."""
    return statistics.quantiles(values, n=100)[q - 1]


class FxSide:
    """A broker over a real client and journal; `once()` is one order's round trip in µs."""

    def __init__(self, rest_url: str, journal_path: Path) -> None:
        budget = OrderBudget(UNREACHED, UNREACHED, UNREACHED, UNREACHED)
        self.client = PrivateClient(rest_url, KEYS, budget=budget)
        self.journal = Journal.open(journal_path)
        self.broker: LiveBroker | None = None
        self._done: asyncio.Future[int] | None = None
        self.outcomes: list[OrderOutcome] = []
        self.states: list[str] = []  # each order's state when its round trip ended

    async def start(self) -> LiveBroker:
        rules = await self.client.exchange_info(["BTCUSDT"])
        self.broker = LiveBroker(
            self.client, self.journal, LIMITS, rules, on_outcome=self.outcomes.append, notify=self._note
        )
        return self.broker

    def _note(self, event: OrderEvent) -> None:
        # the broker's event once the ack is journaled: the order is ACCEPTED in fx (or further on,
        # when the user stream's pushes came first)
        if event.detail.startswith("order id") and self._done is not None and not self._done.done():
            self.states.append(event.state)
            self._done.set_result(time.perf_counter_ns())

    async def once(self) -> float:
        assert self.broker is not None
        self._done = asyncio.get_running_loop().create_future()
        start = time.perf_counter_ns()
        self.broker.submit(ASK)
        end = await asyncio.wait_for(self._done, 10)
        return (end - start) / 1000

    async def close(self) -> None:
        await self.client.aclose()
        self.journal.close()


class PeerSide:
    """A bare `httpx.AsyncClient` sending the same signed order; `once()` in µs."""

    def __init__(self, rest_url: str, offset_ms: int) -> None:
        self.http = httpx.AsyncClient(base_url=rest_url, trust_env=False)
        self.offset_ms = offset_ms
        self.n = 0

    async def once(self) -> float:
        self.n += 1
        start = time.perf_counter_ns()
        params = [
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "MARKET"),
            ("quoteOrderQty", str(NOTIONAL)),
            ("newClientOrderId", f"peer{self.n:010d}"),
            ("recvWindow", "5000"),
            ("timestamp", str(time.time_ns() // 1_000_000 + self.offset_ms)),
        ]
        query = urllib.parse.urlencode(params)
        signature = hmac.new(DOC_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        answer = await self.http.post(
            f"/api/v3/order?{query}&signature={signature}", headers={"X-MEXC-APIKEY": DOC_KEY}
        )
        order_id = answer.json()["orderId"]
        end = time.perf_counter_ns()
        assert answer.status_code == 200, answer.text
        assert order_id, answer.text
        return (end - start) / 1000


async def round_trips(rest_url: str, orders: int, warmup: int) -> dict[str, list[float]]:
    """The three sides in turn, one order each, `orders` times after `warmup` unrecorded turns."""
    WORK.mkdir(parents=True, exist_ok=True)
    disk = Path(tempfile.mkdtemp(dir=WORK))
    shm = Path(tempfile.mkdtemp(dir=SHM))
    on_disk, tmpfs = FxSide(rest_url, disk / "journal.sqlite"), FxSide(rest_url, shm / "journal.sqlite")
    try:
        for side in (on_disk, tmpfs):
            await side.start()
        offset = on_disk.client.offset_ms or 0
        peer = PeerSide(rest_url, offset)
        sides: dict[str, Callable[[], Awaitable[float]]] = {
            ON_DISK: on_disk.once,
            TMPFS: tmpfs.once,
            PEER: peer.once,
        }
        samples: dict[str, list[float]] = {name: [] for name in sides}
        for turn in range(warmup + orders):
            for name, once in sides.items():
                took = await once()
                if turn >= warmup:
                    samples[name].append(took)
        await peer.http.aclose()
        for side in (on_disk, tmpfs):
            assert not side.outcomes, f"an order was refused or rejected: {side.outcomes[:1]}"
            assert set(side.states) == {"ACCEPTED"}, set(side.states)
            assert side.journal.durability()["synchronous"] == "FULL"
        return samples
    finally:
        for side in (on_disk, tmpfs):
            await side.close()
        shutil.rmtree(disk, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


async def push_to_state(rest_url: str, ws_url: str, orders: int, under: Path) -> list[float]:
    """µs from an order push handed over by the socket to the broker's state moved and journaled
    (the journal in a folder under `under`)."""
    under.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=under))
    side = FxSide(rest_url, folder / "journal.sqlite")
    timed: list[float] = []
    try:
        broker = await side.start()
        stream = UserStream(
            side.client, ws_url, on_order=broker.on_order, on_trade=broker.on_trade, on_account=lambda _: None
        )
        handle = stream._on_push

        def on_push(frame: bytes) -> None:
            start = time.perf_counter_ns()
            handle(frame)
            if frame_is_order(frame):  # deal and account pushes move no order state
                timed.append((time.perf_counter_ns() - start) / 1000)

        stream._on_push = on_push  # type: ignore[method-assign]
        stop = asyncio.Event()
        running = asyncio.create_task(stream.run(stop))
        while not stream.connected:
            await asyncio.sleep(0.01)
        for _ in range(orders):
            before = len(timed)
            await side.once()
            deadline = time.monotonic() + 5
            while len(timed) < before + 2 and time.monotonic() < deadline:  # NEW and FILLED pushes
                await asyncio.sleep(0.001)
        stop.set()
        await running
        return timed
    finally:
        await side.close()
        shutil.rmtree(folder, ignore_errors=True)


def frame_is_order(frame: bytes) -> bool:
    """An order push (channel `spot@private.orders...`), as opposed to a deal or account push."""
    return b"private.orders" in frame


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--orders", type=int, default=1000, help="round trips per side")
    parser.add_argument("--calls", type=int, default=20_000, help="signing calls per side")
    parser.add_argument("--pushes", type=int, default=300, help="orders whose pushes are timed")
    args = parser.parse_args()
    run = Run(LAYOUT)
    balance = f"USDT={NOTIONAL * 4 * (args.orders + args.pushes + 100)}"
    with tempfile.TemporaryDirectory() as tmp, venue_process(Path(tmp), balances=(balance,)) as venue:
        btc_like(venue)
        big = [(f"{61800 * (1 + k / 10000):.2f}", "1000") for k in range(1, 6)]
        venue.admin("set_book", symbol="BTCUSDT", bids=[("61700", "1000")], asks=big, last="61800")
        venue.admin("knobs", rate_limits=False)
        samples = asyncio.run(round_trips(venue.rest_url, args.orders, warmup=max(20, args.orders // 20)))
        pushes = asyncio.run(push_to_state(venue.rest_url, venue.ws_url, args.pushes, WORK))
        pushes_tmpfs = asyncio.run(push_to_state(venue.rest_url, venue.ws_url, args.pushes, SHM))
        placed = len(venue.fx_orders()) + len(venue.fx_orders("peer"))
    assert fx_sign(1) == peer_sign(1), "both signers must sign the same bytes"
    signing = {"fx": measure_signing(fx_sign, args.calls), "peer": measure_signing(peer_sign, args.calls)}

    lines: list[Line] = []
    peer = samples[PEER]
    for name in (ON_DISK, TMPFS):
        for q in (50, 99):
            fx_us, peer_us = pct(samples[name], q), pct(peer, q)
            ratio = fx_us / peer_us
            lines.append(
                Line(
                    "round trip",
                    f"p{q}, {name}" + (" (the user's)" if name == ON_DISK else ""),
                    f"{fx_us:,.0f} µs",
                    PEER,
                    f"{peer_us:,.0f} µs",
                    f"{ratio:.2f}x",
                    "<= 1.25x",
                    ratio <= TARGET_RATIO,
                )
            )
    for q in (50, 99):
        fx_us, peer_us = pct(signing["fx"], q), pct(signing["peer"], q)
        is_met = fx_us <= TARGET_SIGN_US if q == 99 else None
        lines.append(
            Line(
                "signing",
                f"p{q}",
                f"{fx_us:.1f} µs",
                "urlencode+hmac",
                f"{peer_us:.1f} µs",
                f"{fx_us / peer_us:.2f}x",
                f"<= {TARGET_SIGN_US:g} µs",
                is_met,
            )
        )
    for name, timed in ((ON_DISK + " (the user's)", pushes), (TMPFS, pushes_tmpfs)):
        push_p99 = pct(timed, 99)
        lines.append(
            Line(
                "push to state",
                f"p99, {name}",
                f"{push_p99:,.0f} µs",
                "",
                "—",
                "—",
                f"<= {TARGET_PUSH_US:g} µs",
                push_p99 <= TARGET_PUSH_US,
            )
        )
    fsync_cost = pct(samples[ON_DISK], 50) - pct(samples[TMPFS], 50)
    notes = [
        f"orders placed at the fake: {placed}; round trips per side: {args.orders}; "
        f"order pushes timed: {len(pushes)} + {len(pushes_tmpfs)} "
        f"(p50 {pct(pushes, 50):.0f} / {pct(pushes_tmpfs, 50):.0f} µs)",
        f"durability (the intent's fsync before the send) costs {fsync_cost:,.0f} µs at p50 on this disk",
    ]
    where = f"--orders {args.orders}, loopback, the fake venue in its own process"
    run.finish(lines, notes=notes, measured_on=where)


if __name__ == "__main__":
    main()
