"""Notifications without a process: event names, message text, destination shapes and redaction."""

from __future__ import annotations

import pytest

from fxcli.backtest.fills import Fill
from fxcli.backtest.runner import TradeRecord
from fxcli.errors import FxError
from fxcli.live.feed import FillNote, StatusNote, TradeNote
from fxcli.live.recorder import RecordEvent
from fxcli.ops.destinations import destination, redact_url
from fxcli.ops.notify import RECORD_EVENTS, STREAM_DEFAULT, DailyTally, Event, messages_of, parse_events
from fxcli.strategy.machine import State, Transition

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"
TS = 1_723_161_331_146_000_000  # 2024-08-08T23:55:31.146Z


def _fill(side: int, price: float, ts_ns: int = TS) -> Fill:
    return Fill(
        ts_ns - 1, ts_ns, side, 0.5, 0.5, price, 0.5 * price, 0.03, "l2", 2, price, price, 1.0, 0.5, 0.2
    )


def _trade() -> TradeRecord:
    entry, exit_ = _fill(1, 100.0, TS - 10), _fill(-1, 102.0)
    return TradeRecord(
        "BTCUSDT", 1, TS - 10, TS, 0.5, 100.0, 102.0, 0.03, 0.03, "take_profit", entry, [exit_]
    )


def test_parse_events_default_when_unset_else_the_names() -> None:
    assert parse_events(None, "--notify-on", tuple(Event), STREAM_DEFAULT) == frozenset(STREAM_DEFAULT)
    assert parse_events(" Exit, gap,,exit ", "--notify-on", tuple(Event), STREAM_DEFAULT) == {
        Event.EXIT,
        Event.GAP,
    }


@pytest.mark.parametrize(
    ("text", "allowed", "message"),
    [
        ("exit,trades", tuple(Event), "--notify-on: 'trades' is not one of signal, entry, exit"),
        (" , ", tuple(Event), "--notify-on: name at least one of"),
        (
            "gap,entry",
            RECORD_EVENTS,
            "--notify-on: 'entry' needs a strategy (fx stream); fx record sends gap",
        ),
    ],
)
def test_parse_events_bad_names_name_the_option(text: str, allowed: tuple[Event, ...], message: str) -> None:
    with pytest.raises(FxError) as caught:
        parse_events(text, "--notify-on", allowed, allowed)

    assert message in str(caught.value)


def test_messages_of_an_entry_fill_are_a_fill_and_an_entry_line() -> None:
    found = messages_of(FillNote("BTCUSDT", "open", _fill(1, 100.0)))

    assert [(e, m.text) for e, m in found] == [
        (Event.FILL, "BTCUSDT fill buy 0.5 @ 100, fee 0.03 (open, l2)"),
        (Event.ENTRY, "BTCUSDT entry long 0.5 @ 100"),
    ]
    assert found[1][1].fields["price"] == 100.0


def test_messages_of_a_closed_trade_say_price_reason_and_pnl() -> None:
    [(event, message)] = messages_of(TradeNote(_trade()))

    assert event is Event.EXIT
    assert message.text == "BTCUSDT exit long 0.5 @ 102 (take_profit), PnL +0.94 (+1.88%)"
    assert message.fields["pnl"] == pytest.approx(0.94)


def test_messages_of_status_notes_sort_gaps_errors_and_the_rest() -> None:
    gap = messages_of(StatusNote(TS, "gap_opened", "connection 0 lost\nreconnecting", "ETHUSDT"))
    error = messages_of(StatusNote(TS, "dial_failed", "refused"))
    record = messages_of(RecordEvent("writer_overflow", TS, {"batches": 2}))

    assert [(e, m.text) for e, m in gap] == [
        (Event.GAP, "ETHUSDT gap_opened: connection 0 lost reconnecting")
    ]
    assert [e for e, _ in error] == [Event.ERROR]
    assert [(e, m.text) for e, m in record] == [(Event.ERROR, "record writer_overflow: batches=2")]
    assert messages_of(StatusNote(TS, "connected", "connection 0")) == []
    assert messages_of(Transition(TS, "X", State.MONITORING, State.INACTIVE, "start", {})) == []


def test_daily_tally_counts_trades_pnl_gaps_and_errors() -> None:
    tally = DailyTally(TS // (86_400 * 10**9))
    for note in (TradeNote(_trade()), StatusNote(TS, "gap", "x"), StatusNote(TS, "rejected", "y")):
        for event, _ in messages_of(note):
            tally.add(event, note)

    message = tally.message("stream", is_partial=False)

    assert (
        message.text == "fx stream daily 2024-08-08 UTC: 1 trade (1 won), PnL +0.94; 0 fills, 1 gap, 1 error"
    )
    assert tally.message("record", is_partial=True).text == (
        "fx record daily 2024-08-08 UTC (until the run stopped): 1 gap, 1 error"
    )


def test_destination_shapes_and_names_without_secrets() -> None:
    env = {"FX_TELEGRAM_TOKEN": TOKEN, "FX_TELEGRAM_API_URL": "http://127.0.0.1:9/", "FX_DISCORD_API_URL": ""}

    hook = destination("https://hooks.example.org:8443/fx/s3cr3t?k=v", "--notify", env)
    chat = destination("telegram://-1001234567890", "--notify", env)
    channel = destination("telegram://@fx_alerts", "--notify", env)
    discord = destination("https://discordapp.com/api/webhooks/42/tok-EN_x", "--notify", env)

    assert (hook.kind, hook.name) == ("webhook", "webhook https://hooks.example.org:8443/…")
    assert (chat.kind, chat.url) == ("telegram", f"http://127.0.0.1:9/bot{TOKEN}/sendMessage")
    assert chat.payload("hi", {})["chat_id"] == -1001234567890
    assert channel.payload("hi", {})["chat_id"] == "@fx_alerts"
    assert (discord.kind, discord.url) == ("discord", "https://discord.com/api/webhooks/42/tok-EN_x")
    assert discord.payload("hi", {"x": 1}) == {"content": "hi", "allowed_mentions": {"parse": []}}
    for dest in (hook, chat, channel, discord):
        for secret in ("s3cr3t", TOKEN, "ABCdef", "tok-EN_x"):
            assert secret not in dest.name


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        (
            "ftp://files.example.org/s3cr3t",
            {},
            "--notify ftp://files.example.org/…: not an http(s):// webhook",
        ),
        ("hooks.example.org/s3cr3t", {}, "not an http(s):// webhook"),
        ("telegram://-100123", {}, "--notify telegram://-100123: set FX_TELEGRAM_TOKEN"),
        ("telegram://chat s3cr3t", {"FX_TELEGRAM_TOKEN": TOKEN}, "the chat id must be a number or @channel"),
        ("telegram://-100123", {"FX_TELEGRAM_TOKEN": "s3cr3t"}, "FX_TELEGRAM_TOKEN: not a bot token"),
        ("https://discord.com/s3cr3t", {}, "a Discord webhook is /api/webhooks/ID/TOKEN"),
    ],
)
def test_destination_bad_values_say_why_without_the_secret(
    url: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(FxError) as caught:
        destination(url, "--notify", env)

    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_redact_url_keeps_scheme_host_and_port_only() -> None:
    assert redact_url("https://user:pw@example.org:8080/a/b?c=d") == "https://example.org:8080/…"
    assert redact_url("http://[::1") == "<unparsable URL>"
