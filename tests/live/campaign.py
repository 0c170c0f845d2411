"""The seeded fault campaign of issue 15 (docs/mexc-orders.md §5 x order roles, goals G1-G4 of §6).

One run = one seed: a fresh `FakePrivateVenue(seed=seed)`, fx's real order path in this process (the
`LiveBroker` with the real `PrivateClient`, a real journal file, and the `UserStream` wired exactly as
`fx stream --live` wires it), a plan drawn from `random.Random(seed)` alone — venue knobs, which
faults are armed before which step, the steps (entries, exits, resting orders that get cancelled,
tape prints, external orders and transfers, listenKey deaths and a full listenKey quota, forced stream
closes, a symbol whose exchangeInfo changes mid-run), and whether the run ends with
`flatten` — then fx stops with cancel on exit and the run is checked against the venue's ledger:

G1 no fx order of the run open at the venue; G2 at most one venue order per journal intent (and no
fx order the journal does not know); G3 the fill ledger equals the venue's trades of fx's orders by
trade id (qty, price, fee, fee asset); G4 per asset, fx's fills + foreign trades + transfers equal the
change of free + locked, exact in Decimal.

Every timer is a knob kept short (client timeout, lag window, poll, stream pings, canary) so a run
takes a fraction of a second; `python -m tests.live.campaign SEED...` replays runs by seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fxcli.exchange.mexc_private.budget import OrderBudget
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import VenueError
from fxcli.exchange.mexc_private.rules import SymbolRules
from fxcli.exchange.pacing import Backoff
from fxcli.execution.broker import LiveBroker, OrderAsk, OrderOutcome
from fxcli.execution.clientid import parse
from fxcli.execution.journal import Journal
from fxcli.execution.killswitch import flatten
from fxcli.live.trading import user_stream
from tests.fake_mexc_private.pushes import DEALS, ORDERS
from tests.fake_mexc_private.venue import DOC_KEY, FakePrivateVenue
from tests.live.test_broker import KEYS, LAST, LIMITS, btc_venue, rest_limit_orders

SYMBOL = "BTCUSDT"
START = {"USDT": "10000", "BTC": "1"}
TIMEOUT_S = 0.4  # the client's REST timeout: a "slow" fault waits longer than this
ASK_WAIT_S = 8.0  # an ask without an outcome in this long is a failed run (a hang)
STREAM_KNOBS: dict[str, Any] = {
    "ping_s": 0.3,
    "silence_s": 2.0,
    "ack_timeout_s": 1.0,
    "stable_s": 0.5,
    "backoff": Backoff(0.02, 0.2),
    "canary_grace_ms": 300,
    "canary_s": 0.3,
}
POST, DELETE, GET = "POST /api/v3/order$", "DELETE /api/v3/order$", "GET /api/v3/order$"
REJECT_CODES = (30002, 30003, 30004, 30005, 10101, 10007, 30000, 30001, 30016, 30019, 30029, 30041, 30087)


def _rest_fault(kind: str, **params: Any) -> Callable[[random.Random], dict[str, Any]]:
    """A REST fault's options, with seeded choices where the spec gives a range."""

    def options(rng: random.Random) -> dict[str, Any]:
        chosen = {k: (rng.choice(v) if isinstance(v, tuple) else v) for k, v in params.items()}
        return {"kind": kind, **chosen}

    return options


# fault label -> (the requests it may hit, its options); labels name the §5 row they play
SEND_FAULTS = {
    "F1 lost response": _rest_fault("lost_response"),
    "F2 request lost": _rest_fault("drop_request"),
    "F4 5xx": _rest_fault("server_error", status=(500, 503, 504), accept=(True, False)),
    "F6 429/418": _rest_fault("rate_limit", status=(429, 418), retry_after=0),
    "F8 auth": _rest_fault("auth", code=(700002, 10072, 700006, 700007)),
    "F9 business reject": _rest_fault("reject", code=REJECT_CODES),
    "F24 slow venue": _rest_fault("slow", delay_s=TIMEOUT_S + 0.2, accept=(True, False)),
    "F25 WAF 403": _rest_fault("waf", accept=(True, False)),
    "F25 truncated": _rest_fault("truncated", accept=(True, False)),
    "F25 empty": _rest_fault("empty", accept=(True, False)),
}
CANCEL_FAULTS = {
    "F1 lost response": _rest_fault("lost_response"),
    "F2 request lost": _rest_fault("drop_request"),
    "F4 5xx": _rest_fault("server_error", status=(500, 503), accept=(True, False)),
    "F11 cancel/fill race": _rest_fault("fill_before_cancel", fraction=(Decimal("0.5"), Decimal(1))),
    "F24 slow venue": _rest_fault("slow", delay_s=TIMEOUT_S + 0.2),
    "F25 truncated": _rest_fault("truncated"),
}
QUERY_FAULTS = {
    "F3 read-after-write not found": _rest_fault("not_found"),
    "F4 5xx": _rest_fault("server_error", status=(500, 503)),
    "F6 429/418": _rest_fault("rate_limit", status=(429,), retry_after=0),
}
PUSH_FAULTS = ("drop_push", "duplicate_push", "reorder_push")
# F20/F23: the symbol's exchangeInfo changes mid-run (fx started with the old rules)
SYMBOL_CHANGES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("F20 symbol paused", {"status": "2"}),
    ("F20 sell-only", {"trade_side_type": 3}),
    ("F20 no API trading", {"spot_allowed": False}),
    ("F23 quantity precision 6 -> 4", {"base_precision": 4}),
    ("F23 market minimum raised", {"min_notional_market": "30"}),
    ("F23 market maximum lowered", {"max_quote_market": "30"}),
)


@dataclass
class RunResult:
    """One run's counts and the goals it broke (empty: it passed)."""

    seed: int
    failures: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    fills: int = 0
    unknowns: int = 0
    orphans: int = 0
    duplicates: int = 0
    seconds: float = 0.0


class Run:
    """One seeded run: the venue, fx's order path on it, the plan, the checks."""

    def __init__(self, seed: int, folder: Path) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.folder = folder
        self.result = RunResult(seed)
        self.outcomes: list[OrderOutcome] = []
        self.rules_changed = False  # resting orders (sent around the broker) stop after F20/F23

    # -- faults -------------------------------------------------------------------------------
    def arm(self, venue: FakePrivateVenue, table: dict[str, Any], when: str, chance: float) -> None:
        """Maybe one fault of `table` on the next request matching `when`."""
        if self.rng.random() >= chance:
            return
        label = self.rng.choice(sorted(table))
        options = table[label](self.rng)
        venue.fault(options.pop("kind"), when=when, seed=self.seed, **options)
        self.result.faults[label] += 1

    def venue_knobs(self, venue: FakePrivateVenue) -> None:
        """The venue-wide §5 knobs of this run."""
        rng, faults = self.rng, self.result.faults
        if rng.random() < 0.4:
            venue.read_lag_ms = rng.choice((100, 250))
            faults["F3 read-after-write lag"] += 1
        venue.duplicate_client_ids = rng.choice(("reject", "accept", "return_existing"))
        faults[f"F5 duplicate ids: {venue.duplicate_client_ids}"] += 1
        if rng.random() < 0.5:
            venue.exchange.partial_fills = (1, rng.choice((2, 4)))
            faults["F10 partial fills"] += 1
        venue.cancel_status = rng.choice(("NEW", "CANCELED"))
        venue.cancel_push_delay_s = rng.choice((0.0, 0.1, None))
        if venue.cancel_status == "NEW":
            faults["F12 cancel answered NEW"] += 1
        if rng.random() < 0.3:
            venue.deal_before_order = True
            faults["F14 deal before order"] += 1
        if rng.random() < 0.2:
            venue.trades_null_client_id = True
            faults["myTrades null client id"] += 1
        for kind in PUSH_FAULTS:
            if rng.random() < 0.3:
                channel = rng.choice((ORDERS, DEALS))
                venue.fault(kind, when=channel, times=None, probability=0.3, seed=self.seed)
                faults[f"F13/F14 {kind}"] += 1
        faults["F22 fee in base on buys"] += 1  # the fake charges a buy's fee in BTC
        if rng.random() < 0.2:  # the 24 h connection lifetime, shortened: sockets closed under fx
            venue.streams.max_conn_s = rng.choice((0.5, 1.0))
            faults["F17 forced stream close"] += 1

    def external(self, venue: FakePrivateVenue) -> None:
        """F19/F21: an order placed outside fx, a transfer."""
        rng = self.rng
        if rng.random() < 0.3:
            side = rng.choice(("BUY", "SELL"))
            if rng.random() < 0.5:
                venue.place_external(SYMBOL, side, "MARKET", "0.0005")
            else:
                price = "60000" if side == "BUY" else "63000"
                venue.place_external(
                    SYMBOL, side, "LIMIT", "0.0005", price, client_id=f"web{rng.randrange(999)}"
                )
            self.result.faults["F19 external order"] += 1
        if rng.random() < 0.3:
            asset, amount = rng.choice((("USDT", "25"), ("USDT", "-10"), ("BTC", "0.001")))
            venue.transfer(asset, amount, rng.choice(("DEPOSIT", "WITHDRAW", "SUGAR")))
            self.result.faults["F21 external balance change"] += 1

    def stream_death(self, venue: FakePrivateVenue) -> None:
        """F15: the current listenKey dies, closed or silent."""
        keys = venue.streams.valid_keys()
        if keys and self.rng.random() < 0.2:
            mode = self.rng.choice(("close", "silent"))
            venue.kill_listen_key(keys[-1], mode)
            self.result.faults[f"F15 listenKey death: {mode}"] += 1

    def listen_key_quota(self, venue: FakePrivateVenue) -> None:
        """F16: another session fills the 60-key quota just as fx's key dies (fx's new key is refused
        with 730003 until that session ends, 0.3 s later)."""
        streams = venue.streams
        if self.rng.random() >= 0.15:
            return
        mine = streams.valid_keys()
        foreign = [streams.create(DOC_KEY) for _ in range(streams.max_keys - len(mine))]
        if mine:
            venue.kill_listen_key(mine[-1], "close")

        def release() -> None:
            for key in foreign:
                with contextlib.suppress(Exception):
                    streams.delete(key)

        asyncio.get_running_loop().call_later(0.3, release)
        self.result.faults["F16 listenKey quota"] += 1

    def symbol_change(self, venue: FakePrivateVenue) -> None:
        """F20/F23: maybe the symbol's rules change now."""
        if self.rules_changed or self.rng.random() >= 0.12:
            return
        label, fields = self.rng.choice(SYMBOL_CHANGES)
        venue.set_symbol(SYMBOL, **fields)
        self.rules_changed = True
        self.result.faults[label] += 1

    # -- the run ------------------------------------------------------------------------------
    async def ask(self, broker: LiveBroker, action: str) -> None:
        before = len(self.outcomes)
        broker.submit(OrderAsk(SYMBOL, action, Decimal(self.rng.choice((20, 50))), Decimal(LAST), 0))
        deadline = time.monotonic() + ASK_WAIT_S
        while len(self.outcomes) == before:
            if time.monotonic() > deadline:
                self.result.failures.append(f"the {action} ask got no outcome in {ASK_WAIT_S:g} s")
                return
            await asyncio.sleep(0.01)

    async def execute(self) -> RunResult:
        started = time.monotonic()
        rng = self.rng
        async with FakePrivateVenue(
            seed=self.seed, symbols=[SYMBOL], balances=START, max_lifetime_s=60
        ) as venue:
            btc_venue(venue)
            self.venue_knobs(venue)
            # listenKey calls paced at 20/s on both sides instead of ~1/s: a run re-keys in ms
            venue.limits.rates["listen_key"] = 20.0
            budget = OrderBudget(listen_key_per_s=16)
            async with PrivateClient(venue.rest_url, KEYS, timeout_s=TIMEOUT_S, budget=budget) as client:
                with Journal.open(self.folder / f"journal-{self.seed}.sqlite") as journal:
                    rules = await rules_of(client)
                    broker = LiveBroker(
                        client,
                        journal,
                        LIMITS,
                        rules,
                        on_outcome=self.outcomes.append,
                        poll_s=0.05,
                        lag_s=0.3,
                    )
                    stream = user_stream(client, broker, [SYMBOL], venue.ws_url, **STREAM_KNOBS)
                    stop = asyncio.Event()
                    helpers = [asyncio.create_task(broker.run(stop)), asyncio.create_task(stream.run(stop))]
                    try:
                        await self.wait_stream(stream)
                        await self.steps(venue, broker)
                        if rng.random() < 0.3:
                            self.arm(venue, CANCEL_FAULTS, DELETE, 0.5)
                            await flatten(client, journal, rules, wait_s=1.0, lag_s=0.3)
                            self.result.faults["flatten"] += 1
                        await broker.close(wait_s=2.0)
                    finally:
                        stop.set()  # then cancelled, as a live session ends its helpers
                        for task in helpers:
                            task.cancel()
                        await asyncio.gather(*helpers, return_exceptions=True)
                    self.result.unknowns = broker.stats.unknown
                    venue.faults.clear()  # the checks read the truth, not a faulty answer
                    self.check(venue, journal)
        self.result.seconds = time.monotonic() - started
        return self.result

    async def wait_stream(self, stream: Any) -> None:
        deadline = time.monotonic() + 3
        while not stream.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def steps(self, venue: FakePrivateVenue, broker: LiveBroker) -> None:
        """1-3 round trips, each fault-armed by role, with resting orders, tape and outside events."""
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            self.arm(venue, SEND_FAULTS, POST, 0.5)
            self.arm(venue, QUERY_FAULTS, GET, 0.3)
            if rng.random() < 0.15:
                venue.skew(rng.choice((-1, 1)) * rng.randint(500, 3000) * 10)  # F7: beyond recvWindow
                self.result.faults["F7 clock skew"] += 1
            self.symbol_change(venue)
            await self.ask(broker, "open")
            venue.skew(0)
            self.external(venue)
            self.stream_death(venue)
            self.listen_key_quota(venue)
            if (
                not self.rules_changed and rng.random() < 0.5
            ):  # resting orders of the run: what cancels (and cancel on exit) meet
                venue.faults.armed = [f for f in venue.faults.armed if f.kind in PUSH_FAULTS]
                await rest_limit_orders(broker, rng.randint(1, 2))
                if rng.random() < 0.5:
                    venue.trade(SYMBOL, "60000", "0.0005")  # a print partly fills them
            self.arm(venue, SEND_FAULTS, POST, 0.5)
            self.symbol_change(venue)
            await self.ask(broker, "close")
        self.arm(venue, CANCEL_FAULTS, DELETE, 0.6)

    # -- the goals ------------------------------------------------------------------------------
    def check(self, venue: FakePrivateVenue, journal: Journal) -> None:
        ledger = venue.ledger()
        res, fail = self.result, self.result.failures.append
        prefix = f"fx{journal.run_id}"
        # G1: no orphan
        orphans = [o["clientOrderId"] for o in venue.open_orders_of(prefix)]
        res.orphans = len(orphans)
        if orphans:
            fail(f"G1: {len(orphans)} fx orders left open at the venue: {orphans}")
        # G2: at most one venue order per intent; no fx order the journal does not know
        intents = {o.client_id for o in journal.orders()}
        per_id = ledger["orders_per_client_id"]
        dupes = {cid: n for cid, n in per_id.items() if cid in intents and n > 1}
        res.duplicates = len(dupes)
        res.orders = sum(per_id.get(cid, 0) for cid in intents)
        if dupes:
            fail(f"G2: venue orders per intent > 1: {dupes}")
        unknown_to_fx = [cid for cid in per_id if cid.startswith("fx") and cid not in intents]
        if unknown_to_fx:
            fail(f"G2: venue orders fx never journaled: {unknown_to_fx}")
        # G3: the fill ledger equals the venue's trades of fx's orders
        foreign = {tid for o in ledger["orders"] if o["external"] for tid in o["tradeIds"]}
        venue_fx = {tid: t for tid, t in ledger["trades"].items() if tid not in foreign}
        # the journal keeps the account's whole ledger (foreign trades too, for balances): fx's own
        # fills are those joined to an fx client id
        ours = {t.trade_id: t for t in journal.fills() if parse(t.client_id) is not None}
        res.fills = len(ours)
        sold = sum((t.qty for t in ours.values() if t.side == "SELL"), Decimal(0))
        bought = sum(
            (t.qty - (t.fee if t.fee_asset == "BTC" else 0) for t in ours.values() if t.side == "BUY"),
            Decimal(0),
        )
        if sold > bought:
            fail(f"G3: fx sold {sold} BTC but bought only {bought}: it sold what it does not hold")
        missing, extra = sorted(set(venue_fx) - set(ours)), sorted(set(ours) - set(venue_fx))
        if missing or extra:
            fail(f"G3: fills missing from fx's ledger {missing}, extra {extra}")
        for tid in set(venue_fx) & set(ours):
            want, have = venue_fx[tid], ours[tid]
            fields = (Decimal(want["qty"]), Decimal(want["price"]), Decimal(want["commission"]))
            if (*fields, want["commissionAsset"]) != (have.qty, have.price, have.fee, have.fee_asset):
                fail(f"G3: trade {tid} differs: venue {want}, fx {have}")
        # G4: per asset, fx's fills + foreign trades + transfers == the change of free + locked
        expected = {a: Decimal(v) for a, v in START.items()}
        for trade in ours.values():
            _book(expected, trade.side, trade.qty, trade.quote_qty, trade.fee, trade.fee_asset)
        for tid in foreign:
            t = ledger["trades"][tid]
            side = "BUY" if t["isBuyer"] else "SELL"
            _book(
                expected,
                side,
                Decimal(t["qty"]),
                Decimal(t["quoteQty"]),
                Decimal(t["commission"]),
                t["commissionAsset"],
            )
        for transfer in ledger["transfers"]:
            expected[transfer["asset"]] = expected.get(transfer["asset"], Decimal(0)) + Decimal(
                transfer["amount"]
            )
        for asset, row in ledger["balances"].items():
            total = Decimal(row["free"]) + Decimal(row["locked"])
            if total != expected.get(asset, Decimal(0)):
                fail(
                    f"G4: {asset} at the venue {total}, by fx's fills and outside moves {expected.get(asset)}"
                )


async def rules_of(client: PrivateClient) -> dict[str, SymbolRules]:
    """The symbol's rules (set-up, before any fault is armed): asked again when a loaded machine makes
    the short campaign timeout expire; a live session would stop here with one error line instead."""
    for _ in range(20):
        with contextlib.suppress(VenueError):
            return await client.exchange_info([SYMBOL])
    return await client.exchange_info([SYMBOL])


def _book(
    balances: dict[str, Decimal], side: str, qty: Decimal, quote: Decimal, fee: Decimal, fee_asset: str
) -> None:
    """One trade's effect on BTC/USDT balances."""
    sign = 1 if side == "BUY" else -1
    balances["BTC"] = balances.get("BTC", Decimal(0)) + sign * qty
    balances["USDT"] = balances.get("USDT", Decimal(0)) - sign * quote
    balances[fee_asset] = balances.get(fee_asset, Decimal(0)) - fee


async def run_seed(seed: int, folder: Path) -> RunResult:
    """One run; an exception is a failure of the run (reported by seed), not of the campaign."""
    run = Run(seed, folder)
    try:
        return await run.execute()
    except Exception as exc:
        run.result.failures.append(f"crashed: {type(exc).__name__}: {exc}")
        return run.result


@dataclass
class CampaignReport:
    runs: list[RunResult]

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.runs if r.failures]

    def summary(self) -> str:
        runs = self.runs
        faults: Counter[str] = Counter()
        for r in runs:
            faults.update(r.faults)
        lines = [
            f"campaign: {len(runs)} runs, {sum(r.orders for r in runs)} orders, "
            f"{sum(r.fills for r in runs)} fills, {sum(r.unknowns for r in runs)} unknowns resolved, "
            f"{sum(r.orphans for r in runs)} orphans, {sum(r.duplicates for r in runs)} duplicates, "
            f"{sum(r.seconds for r in runs):.1f} s",
            "faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())),
        ]
        if self.failed:
            lines.append(f"FAILED seeds: {[r.seed for r in self.failed]}")
            lines += [f"  seed {r.seed}: {f}" for r in self.failed for f in r.failures]
        return "\n".join(lines)


def campaign(seeds: list[int], folder: Path, *, parallel: int = 12) -> CampaignReport:
    """Every seed's run, `parallel` at a time on one loop (each run has its own venue and ports; a
    run's plan depends on its seed only, so a failing seed replays alone)."""

    async def all_runs() -> list[RunResult]:
        gate = asyncio.Semaphore(parallel)

        async def gated(seed: int) -> RunResult:
            async with gate:
                return await run_seed(seed, folder)

        return list(await asyncio.gather(*(gated(seed) for seed in seeds)))

    return CampaignReport(asyncio.run(all_runs()))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        report = campaign([int(s) for s in sys.argv[1:]], Path(tmp))
    print(report.summary())
    sys.exit(1 if report.failed else 0)
