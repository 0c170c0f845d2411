"""cryptofeed's Binance raw captures (five venues) through `fx import`, held against the README and raw lines.

Every `*.ws.1.0` file is imported in one call; fx pairs each with its sibling `*.http.0.0` REST
snapshots. Counts come from ../shared/data/cryptofeed/README.md; depth-diff sequences and books come
from an independent reading of the same files (tests/data/binance_reference.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from fxcli.model.book import Applied
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.import_ import FileReport, ImportReport, import_binance
from tests.data.binance_reference import CryptofeedCapture, read_cryptofeed, rebuild
from tests.data.store_book import full_ladders, replay_book

pytestmark = pytest.mark.data

FOLDER = Path("cryptofeed")


@dataclass(frozen=True)
class Venue:
    """One cryptofeed venue and what the README says its ws file holds."""

    name: str
    exchange: str
    futures: bool
    agg_trades: int
    book_tickers: int
    klines: int
    snapshots: int
    messages_per_symbol: dict[str, int]


VENUES = [
    Venue(
        "BINANCE", "binance", False, 2, 84, 2, 4, {"nknusdt": 226, "blzeth": 11, "lrcbtc": 26, "runeeur": 2}
    ),
    Venue(
        "BINANCE_DELIVERY",
        "binance-coinm",
        True,
        51,
        2240,
        33,
        10,
        {
            "bchusd_perp": 496,
            "ethusd_210924": 611,
            "xrpusd_perp": 698,
            "etcusd_perp": 707,
            "linkusd_perp": 421,
            "bchusd_210924": 194,
            "btcusd_211231": 403,
            "trxusd_perp": 252,
            "linkusd_211231": 202,
            "eosusd_perp": 387,
        },
    ),
    Venue(
        "BINANCE_FUTURES",
        "binance-usdm",
        True,
        91,
        613,
        67,
        4,
        {"sushiusdt": 622, "akrousdt": 293, "keepusdt": 220, "ctkusdt": 400},
    ),
    Venue(
        "BINANCE_US",
        "binance-us",
        False,
        11,
        128,
        5,
        4,
        {"compusdt": 151, "omgbusd": 233, "crvusdt": 40, "zrxusdt": 56},
    ),
    Venue(
        "BINANCE_TR",
        "binance-tr",
        False,
        0,
        47,
        8,
        3,
        {"xemusdt": 54, "ltcbrl": 38, "belbtc": 45, "elfbusd": 2},
    ),
]
IDS = [v.name for v in VENUES]


@dataclass(frozen=True)
class Imported:
    """All five ws files imported in one call."""

    data_dir: Path
    report: ImportReport
    shared_data: Path

    def input_for(self, venue: Venue) -> FileReport:
        ws = str(self.shared_data / FOLDER / f"{venue.name}.ws.1.0")
        matches = [r for r in self.report.inputs if ws in r.files]
        assert len(matches) == 1, f"{ws} is in {len(matches)} inputs"
        return matches[0]

    def rows(self, venue: Venue, table: Table) -> dict[str, int]:
        reader = StoreReader(self.data_dir)
        return {
            symbol: reader.scan(venue.exchange, symbol, table).collect().height
            for symbol in reader.layout.symbols(venue.exchange)
        }


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    data_dir = tmp_path_factory.mktemp("cryptofeed") / "data"
    ws_files = sorted((shared_data / FOLDER).glob("*.ws.1.0"))
    assert len(ws_files) == len(VENUES)
    return Imported(data_dir, import_binance(ws_files, data_dir), shared_data)


@pytest.fixture(scope="module")
def captures(shared_data: Path) -> dict[str, CryptofeedCapture]:
    folder = shared_data / FOLDER
    return {
        v.name: read_cryptofeed(folder / f"{v.name}.ws.1.0", folder / f"{v.name}.http.0.0") for v in VENUES
    }


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


def test_import_cryptofeed_skips_no_lines(imported: Imported) -> None:
    report = imported.report

    per_input = {Path(r.files[-1]).name: r.issues.skipped for r in report.inputs}

    assert per_input == {f"{v.name}.ws.1.0": 0 for v in VENUES}
    assert report.skipped == 0


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_ws_file_is_paired_with_its_http_snapshots(
    imported: Imported, venue: Venue
) -> None:
    folder = imported.shared_data / FOLDER

    files = imported.input_for(venue).files

    assert files == [str(folder / f"{venue.name}.http.0.0"), str(folder / f"{venue.name}.ws.1.0")]


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_venue_is_stored_under_its_exchange_name(imported: Imported, venue: Venue) -> None:
    report = imported.input_for(venue)

    exchanges = StoreReader(imported.data_dir).layout.exchanges()

    assert report.exchange == venue.exchange
    assert venue.exchange in exchanges


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_trade_rows_equal_readme_agg_trades(imported: Imported, venue: Venue) -> None:
    rows = imported.rows(venue, Table.TRADES)

    total = sum(rows.values())

    assert total == venue.agg_trades


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_book_ticker_rows_equal_readme(imported: Imported, venue: Venue) -> None:
    rows = imported.rows(venue, Table.BOOK_TICKER)

    total = sum(rows.values())

    assert total == venue.book_tickers


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_klines_are_counted_as_ignored(imported: Imported, venue: Venue) -> None:
    report = imported.input_for(venue)

    ignored = report.issues.ignored

    assert ignored == {"kline_1m": venue.klines}


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_stores_one_snapshot_per_rest_answer(imported: Imported, venue: Venue) -> None:
    reader = StoreReader(imported.data_dir)

    snapshots = {
        symbol: reader.scan(venue.exchange, symbol, Table.BOOK_SNAPSHOTS)
        .select("version")
        .unique()
        .collect()
        .height
        for symbol in reader.layout.symbols(venue.exchange)
    }

    assert sum(snapshots.values()) == venue.snapshots
    assert set(_nonzero(snapshots).values()) == {1}


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_reference_reader_message_counts_equal_readme_per_symbol(
    captures: dict[str, CryptofeedCapture], venue: Venue
) -> None:
    capture = captures[venue.name]

    counts = Counter(symbol.lower() for symbol, _, _ in capture.messages)

    assert dict(counts) == venue.messages_per_symbol


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_per_symbol_trades_and_tickers_equal_raw_messages(
    imported: Imported, captures: dict[str, CryptofeedCapture], venue: Venue
) -> None:
    raw = Counter((symbol, kind) for symbol, kind, _ in captures[venue.name].messages)
    expected_trades = _nonzero({s: n for (s, kind), n in raw.items() if kind == "aggTrade"})
    expected_tickers = _nonzero({s: n for (s, kind), n in raw.items() if kind == "bookTicker"})

    trades = _nonzero(imported.rows(venue, Table.TRADES))
    tickers = _nonzero(imported.rows(venue, Table.BOOK_TICKER))

    assert trades == expected_trades
    assert tickers == expected_tickers


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_import_cryptofeed_applied_depth_diffs_equal_binance_rules(
    imported: Imported, captures: dict[str, CryptofeedCapture], venue: Venue
) -> None:
    applied = Counter(diff.symbol for diff, _ in rebuild(captures[venue.name].book, futures=venue.futures))
    reader = StoreReader(imported.data_dir)

    stored = {
        symbol: reader.scan(venue.exchange, symbol, Table.BOOK_DELTAS)
        .select("from_version", "to_version")
        .unique()
        .collect()
        .height
        for symbol in reader.layout.symbols(venue.exchange)
    }

    assert _nonzero(stored) == dict(applied)
    assert imported.input_for(venue).events.get("BookDelta", 0) == sum(applied.values())


@pytest.mark.parametrize("venue", VENUES, ids=IDS)
def test_replay_cryptofeed_store_books_equal_reference_after_every_stored_delta(
    imported: Imported, captures: dict[str, CryptofeedCapture], venue: Venue
) -> None:
    capture = captures[venue.name]
    symbols = sorted({diff.symbol for diff, _ in rebuild(capture.book, futures=venue.futures)})
    mismatches: list[str] = []

    for symbol in symbols:
        reference = rebuild([i for i in capture.book if i.symbol == symbol], futures=venue.futures)
        for delta, outcome, book in replay_book(imported.data_dir, venue.exchange, symbol):
            ref = next(((d, b) for d, b in reference if d.last_id >= delta.to_version), None)
            if outcome is not Applied.APPLIED or ref is None or ref[0].last_id != delta.to_version:
                seen = None if ref is None else ref[0].last_id
                mismatches.append(
                    f"{symbol} u={delta.to_version}: store {outcome}, reference next applied u={seen}"
                )
                break
            bids, asks = full_ladders(book)
            ref_bids, ref_asks = ref[1].ladders()
            if (bids, asks) != (ref_bids, ref_asks):
                wrong = sorted(set(bids) ^ set(ref_bids)) + sorted(set(asks) ^ set(ref_asks))
                mismatches.append(f"{symbol} after u={delta.to_version}: levels differ {wrong[:6]}")

    assert mismatches == []
