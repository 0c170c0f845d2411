"""The order journal: every intent is on disk before its request leaves, every state change and
every fill after it, in one SQLite file (WAL, `synchronous=FULL`: a commit is fsynced).

Tables: `runs` (every run that wrote here: a restart recognises its own client ids), `intents`
(one row per client id, written once), `states` (append-only: every transition with the evidence
that caused it; an order's current state is its last row), `fills` (one row per venue trade id, the
exactly-once fill ledger of the account, foreign trades included so balances reconcile), `balances`
(account snapshots: the baseline of the balance invariant).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from fxcli.errors import FxError
from fxcli.execution.clientid import client_id as make_client_id
from fxcli.execution.clientid import is_run_id, new_run_id
from fxcli.execution.orders import (
    TERMINAL,
    Intent,
    OrderState,
    TrackedOrder,
    can_move,
    now_ms,
)
from fxcli.model.orders import BUY, SELL, Balance, VenueTrade

SCHEMA_VERSION = 1
# "fxjr" as a 32-bit integer: marks the file as an fx order journal (PRAGMA application_id).
APPLICATION_ID = 0x66786A72
# A tombstoned id is watched for this long (allOrders reaches 7 days back; nothing older shows).
TOMBSTONE_WATCH_MS = 7 * 24 * 3600 * 1000

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE intents (
    client_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    qty TEXT,
    quote_qty TEXT,
    price TEXT,
    created INTEGER NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE TABLE states (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL REFERENCES intents(client_id),
    state TEXT NOT NULL,
    order_id TEXT NOT NULL,
    cum_qty TEXT NOT NULL,
    cum_quote TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL,
    incident TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX states_by_client ON states (client_id, id);
CREATE INDEX states_by_order ON states (order_id);
CREATE TABLE fills (
    trade_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    qty TEXT NOT NULL,
    quote_qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    is_maker INTEGER NOT NULL,
    source TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL
);
CREATE INDEX fills_by_client ON fills (client_id);
CREATE TABLE balances (
    taken_ms INTEGER NOT NULL,
    asset TEXT NOT NULL,
    free TEXT NOT NULL,
    locked TEXT NOT NULL,
    PRIMARY KEY (taken_ms, asset)
);
"""

_LATEST_STATES = """
SELECT i.client_id, i.run_id, i.seq, i.role, i.symbol, i.side, i.type, i.qty, i.quote_qty, i.price,
       i.created, s.state, s.order_id, s.cum_qty, s.cum_quote, s.cancel_requested, s.incident, s.at_ms
FROM intents i
JOIN states s ON s.id = (SELECT MAX(id) FROM states WHERE client_id = i.client_id)
"""

_FILL_COLUMNS = (
    "symbol, trade_id, order_id, client_id, side, price, qty, quote_qty, fee, fee_asset, time_ms, is_maker"
)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _trade(row: tuple[object, ...]) -> VenueTrade:
    sym, tid, oid, cid, side, price, qty, quote, fee, fee_asset, time_ms, maker = row
    return VenueTrade(
        symbol=str(sym),
        trade_id=str(tid),
        order_id=str(oid),
        client_id=str(cid),
        side=str(side),
        price=Decimal(str(price)),
        qty=Decimal(str(qty)),
        quote_qty=Decimal(str(quote)),
        fee=Decimal(str(fee)),
        fee_asset=str(fee_asset),
        time_ms=int(str(time_ms)),
        is_maker=bool(maker),
    )


class Journal:
    """One run's handle on the journal file; every write is committed (and fsynced) before the
    method returns. Safe to call from several threads (one lock)."""

    def __init__(self, path: Path, db: sqlite3.Connection, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, run_id: str | None = None) -> Journal:
        """Open (or create) the journal at `path` and register `run_id` (a fresh one by default)."""
        path = Path(path)
        if run_id is not None and not is_run_id(run_id):
            raise ValueError(f"run id {run_id!r} is not 6 lower-case base36 characters")
        if path.exists() and not path.is_file():
            raise FxError(f"{path}: the order journal must be a file, not a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise FxError(f"{path}: cannot open the order journal ({exc})") from exc
        try:
            cls._prepare(path, db)
            journal = cls(path, db, run_id or new_run_id())
            journal._register_run()
        except sqlite3.Error as exc:
            db.close()
            # Read-only files or folders, a full disk, a lock held too long: the journal is unusable,
            # and live trading must not start without it.
            raise FxError(f"{path}: cannot write the order journal ({exc})") from exc
        except BaseException:
            db.close()
            raise
        return journal

    @staticmethod
    def _prepare(path: Path, db: sqlite3.Connection) -> None:
        try:
            app_id, version, tables = (
                db.execute("PRAGMA application_id").fetchone()[0],
                db.execute("PRAGMA user_version").fetchone()[0],
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0],
            )
        except sqlite3.DatabaseError as exc:
            raise FxError(f"{path}: not an fx order journal ({exc})") from exc
        if tables and app_id != APPLICATION_ID:
            raise FxError(f"{path}: an SQLite database but not an fx order journal (left untouched)")
        if version > SCHEMA_VERSION:
            raise FxError(
                f"{path}: order journal version {version} was written by a newer fx (this one reads "
                f"{SCHEMA_VERSION})"
            )
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise FxError(f"{path}: SQLite cannot use WAL mode here (got {mode!r}); use a local disk")
        # FULL: the WAL is fsynced at every commit, so a returned write survives a power cut.
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        if not tables:
            # Counted again under the write lock: two processes may create the same new file.
            db.execute("BEGIN IMMEDIATE")
            if not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")

    def _register_run(self) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO runs (run_id, started_ms, pid) VALUES (?, ?, ?)",
                (self.run_id, now_ms(), os.getpid()),
            )

    @contextmanager
    def _write(self, *, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction; COMMIT (the fsync) happens before the caller's method returns. Not
        `synced`: the commit reaches the WAL file (it survives kill -9 of fx) without waiting for
        the disk; the next synced commit carries it to the disk."""
        with self._lock:
            if not synced:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if not synced:
                    self._db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def durability(self) -> dict[str, str]:
        """The settings a crash depends on, as SQLite reports them (for `fx doctor` and tests)."""
        with self._lock:
            mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
            sync = self._db.execute("PRAGMA synchronous").fetchone()[0]
        return {
            "journal_mode": str(mode),
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[sync],
        }

    def record_intent(
        self,
        symbol: str,
        side: str,
        type: str,
        *,
        role: str,
        quantity: Decimal | None = None,
        quote_qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> TrackedOrder:
        """Journal a new intent under this run's next client id; returns only once the row is durable,
        so call it BEFORE the request leaves."""
        if side not in (BUY, SELL):
            raise ValueError(f"side {side!r} is not BUY or SELL")
        if quantity is None and quote_qty is None:
            raise ValueError("an intent needs a quantity or a quote quantity")
        created = now_ms()
        with self._write() as db:
            row = db.execute("SELECT MAX(seq) FROM intents WHERE run_id = ?", (self.run_id,)).fetchone()
            seq = 1 if row[0] is None else int(row[0]) + 1
            intent = Intent(
                client_id=make_client_id(self.run_id, role, seq),
                run_id=self.run_id,
                seq=seq,
                role=role,
                symbol=symbol,
                side=side,
                type=type,
                quantity=quantity,
                quote_qty=quote_qty,
                price=price,
                created_ms=created,
            )
            db.execute(
                "INSERT INTO intents (client_id, run_id, seq, role, symbol, side, type, qty, quote_qty,"
                " price, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    intent.client_id,
                    self.run_id,
                    seq,
                    role,
                    symbol,
                    side,
                    type,
                    _text(quantity),
                    _text(quote_qty),
                    _text(price),
                    created,
                ),
            )
            order = TrackedOrder(intent=intent, updated_ms=created)
            self._append_state(db, order, {"kind": "intent"})
        return order

    def record(self, order: TrackedOrder, evidence: Mapping[str, object], *, synced: bool = True) -> None:
        """Journal `order`'s current state with the evidence that moved it (after an `on_*` returned
        True). Refuses a move the transition table does not allow from the journaled state.
        `synced=False` (see `_write`) is for a state the venue can prove again after a power cut."""
        with self._write(synced=synced) as db:
            row = db.execute(
                "SELECT state FROM states WHERE client_id = ? ORDER BY id DESC LIMIT 1", (order.client_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"{order.client_id} has no intent in {self.path}")
            old = OrderState(row[0])
            if not can_move(old, order.state):
                raise ValueError(f"{order.client_id}: {old} -> {order.state} is not in the transition table")
            self._append_state(db, order, evidence)

    def set_state(
        self,
        client_id: str,
        state: OrderState,
        evidence: Mapping[str, object],
        *,
        order_id: str | None = None,
        cum_qty: Decimal | None = None,
        cum_quote: Decimal | None = None,
    ) -> TrackedOrder:
        """Move one order to `state` (fields not given are carried over); returns the order as now
        journaled. An illegal move raises ValueError."""
        order = self.order(client_id)
        if order is None:
            raise KeyError(f"{client_id} has no intent in {self.path}")
        order.state = state
        order.order_id = order_id if order_id is not None else order.order_id
        order.cum_qty = cum_qty if cum_qty is not None else order.cum_qty
        order.cum_quote = cum_quote if cum_quote is not None else order.cum_quote
        order.updated_ms = now_ms()
        self.record(order, evidence)
        return order

    @staticmethod
    def _append_state(db: sqlite3.Connection, order: TrackedOrder, evidence: Mapping[str, object]) -> None:
        if order.order_id:
            # A fill that came before we knew the order id (myTrades' null client id) joins now.
            db.execute(
                "UPDATE fills SET client_id = ? WHERE order_id = ? AND client_id = ''",
                (order.client_id, order.order_id),
            )
        db.execute(
            "INSERT INTO states (client_id, state, order_id, cum_qty, cum_quote, cancel_requested, incident,"
            " evidence, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.client_id,
                str(order.state),
                order.order_id,
                format(order.cum_qty, "f"),
                format(order.cum_quote, "f"),
                int(order.cancel_requested),
                order.incident,
                json.dumps(dict(evidence), sort_keys=True, default=str),
                order.updated_ms or now_ms(),
            ),
        )

    def add_fill(self, trade: VenueTrade, *, source: str = "") -> bool:
        """Add one venue trade to the fill ledger; False when its trade id is already there. A trade
        without a client id (myTrades may give null) is joined to its intent by order id."""
        with self._write() as db:
            cid = trade.client_id
            known = cid and db.execute("SELECT 1 FROM intents WHERE client_id = ?", (cid,)).fetchone()
            if not known and trade.order_id:
                row = db.execute(
                    "SELECT client_id FROM states WHERE order_id = ? LIMIT 1", (trade.order_id,)
                ).fetchone()
                cid = row[0] if row else cid
            cursor = db.execute(
                "INSERT OR IGNORE INTO fills (trade_id, client_id, order_id, symbol, side, price, qty,"
                " quote_qty, fee, fee_asset, time_ms, is_maker, source, recorded_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trade.trade_id,
                    cid,
                    trade.order_id,
                    trade.symbol,
                    trade.side,
                    format(trade.price, "f"),
                    format(trade.qty, "f"),
                    format(trade.quote_qty, "f"),
                    format(trade.fee, "f"),
                    trade.fee_asset,
                    trade.time_ms,
                    int(trade.is_maker),
                    source,
                    now_ms(),
                ),
            )
            return cursor.rowcount == 1

    def fills(self, *, symbol: str | None = None, after_ms: int | None = None) -> list[VenueTrade]:
        """The fill ledger (every trade id once), oldest first, the client id as joined; only one
        symbol's, or only those with a venue time after `after_ms`, when asked."""
        clauses: list[str] = []
        args: list[object] = []
        if symbol is not None:
            clauses.append("symbol = ?")
            args.append(symbol)
        if after_ms is not None:
            clauses.append("time_ms > ?")
            args.append(after_ms)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_FILL_COLUMNS} FROM fills{where} ORDER BY time_ms, trade_id", args
            ).fetchall()
        return [_trade(row) for row in rows]

    def run_ids(self) -> set[str]:
        """Every run that has written to this journal (this one included)."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT run_id FROM runs")}

    def order(self, client_id: str) -> TrackedOrder | None:
        """One order rebuilt from its intent, its last state row and its fills."""
        found = self._orders(" WHERE i.client_id = ?", (client_id,))
        return found[0] if found else None

    def orders(self, *, open_only: bool = False) -> list[TrackedOrder]:
        """Every journaled order, oldest first; `open_only`: those not terminal (tombstoned ones only
        while they are still watched)."""
        orders = self._orders("", ())
        if not open_only:
            return orders
        cutoff = now_ms() - TOMBSTONE_WATCH_MS
        return [
            o
            for o in orders
            if o.state not in TERMINAL and (o.state != OrderState.TOMBSTONED or o.intent.created_ms >= cutoff)
        ]

    def _orders(self, where: str, args: tuple[str, ...]) -> list[TrackedOrder]:
        with self._lock:
            rows = self._db.execute(_LATEST_STATES + where + " ORDER BY i.created, i.seq", args).fetchall()
            fill_rows = self._db.execute(
                f"SELECT {_FILL_COLUMNS} FROM fills WHERE client_id != '' ORDER BY time_ms, trade_id"
            ).fetchall()
        fills_of: dict[str, dict[str, VenueTrade]] = {}
        for fill_row in fill_rows:
            trade = _trade(fill_row)
            fills_of.setdefault(trade.client_id, {})[trade.trade_id] = trade
        orders = []
        for row in rows:
            cid, run, seq, role, sym, side, typ, qty, quote, price, created = row[:11]
            state, oid, cum_qty, cum_quote, cancel, incident, at_ms = row[11:]
            intent = Intent(cid, run, seq, role, sym, side, typ, _dec(qty), _dec(quote), _dec(price), created)
            orders.append(
                TrackedOrder(
                    intent=intent,
                    state=OrderState(state),
                    order_id=oid,
                    cum_qty=Decimal(cum_qty),
                    cum_quote=Decimal(cum_quote),
                    fills=fills_of.get(cid, {}),
                    updated_ms=at_ms,
                    cancel_requested=bool(cancel),
                    incident=incident,
                )
            )
        return orders

    def history(self, client_id: str) -> list[tuple[OrderState, dict[str, object], int]]:
        """Every journaled state of one order with its evidence and time, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, evidence, at_ms FROM states WHERE client_id = ? ORDER BY id", (client_id,)
            ).fetchall()
        return [(OrderState(state), json.loads(ev), at) for state, ev, at in rows]

    def record_balances(self, balances: Mapping[str, Balance], taken_ms: int) -> None:
        """Store an account snapshot taken at venue time `taken_ms` (the invariant's baseline: fills
        with a later `time_ms` must explain any change after it)."""
        with self._write() as db:
            db.executemany(
                "INSERT OR REPLACE INTO balances (taken_ms, asset, free, locked) VALUES (?, ?, ?, ?)",
                [(taken_ms, b.asset, format(b.free, "f"), format(b.locked, "f")) for b in balances.values()],
            )

    def last_balances(self) -> tuple[int, dict[str, Balance]] | None:
        """The latest account snapshot and its venue time, or None before the first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT taken_ms, asset, free, locked FROM balances"
                " WHERE taken_ms = (SELECT MAX(taken_ms) FROM balances)"
            ).fetchall()
        if not rows:
            return None
        return rows[0][0], {a: Balance(a, Decimal(free), Decimal(locked)) for _, a, free, locked in rows}
