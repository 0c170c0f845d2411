"""Run the fake private venue as a process, for tests that run `fx` as a real subprocess:

    python -m tests.fake_mexc_private --port-file F [--seed N] [--symbols A,B] [--key K:S]

It writes `{"rest_url", "ws_url", "admin_url", "pid"}` to F (atomically, once both servers listen),
serves until SIGTERM/SIGINT or `--max-lifetime-s`, and is scripted through `POST /__admin/<command>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET, FakePrivateVenue


def _pairs(values: list[str], sep: str, what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        left, found, right = value.partition(sep)
        if not found or not left or not right:
            raise SystemExit(f"fake_mexc_private: {what} {value!r} must look like A{sep}B")
        pairs[left] = right
    return pairs


async def _serve(args: argparse.Namespace) -> None:
    keys = _pairs(args.key, ":", "--key") or {DOC_KEY: DOC_SECRET}
    balances = _pairs(args.balance, "=", "--balance") or None
    symbols = [s for s in args.symbols.split(",") if s]
    venue = FakePrivateVenue(
        seed=args.seed, symbols=symbols, keys=keys, balances=balances, max_lifetime_s=args.max_lifetime_s
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with venue:
        info = {
            "rest_url": venue.rest_url,
            "ws_url": venue.ws_url,
            "admin_url": f"{venue.rest_url}/__admin/",
            "pid": os.getpid(),
        }
        port_file = Path(args.port_file)
        partial = port_file.with_suffix(port_file.suffix + ".tmp")
        partial.write_text(json.dumps(info))
        partial.replace(port_file)
        await asyncio.wait(
            [asyncio.create_task(stop.wait()), asyncio.create_task(asyncio.sleep(args.max_lifetime_s))],
            return_when=asyncio.FIRST_COMPLETED,
        )


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_mexc_private")
    parser.add_argument("--port-file", required=True, help="where to write the URLs as JSON")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbols", default="PEPEUSDT", help="comma-separated")
    parser.add_argument("--key", action="append", default=[], help="API key and secret as KEY:SECRET")
    parser.add_argument("--balance", action="append", default=[], help="starting balance as ASSET=AMOUNT")
    parser.add_argument("--max-lifetime-s", type=float, default=600.0)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
