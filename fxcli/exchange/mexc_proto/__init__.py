"""Python classes generated from MEXC's spot v3 WebSocket `.proto` files (Apache-2.0, see LICENSE here).

Source: `../shared/mexc/proto/`, a verbatim copy of `mexcdevelop/websocket-proto` at commit
7b8ac7a6681f28551612a5a7cefbb7e09b56bb85 (2026-06-17). Every `*_pb2.py` / `*_pb2.pyi` file here is
generated, never edited: `make proto` rebuilds them with grpcio-tools 1.85.1 (libprotoc 35.1, gencode
7.35.1, accepted by the pinned protobuf 7.36.2 runtime) and rewrites the generated bare imports
(`import X_pb2`, the files have no `package`) into package-relative ones (`from . import X_pb2`).
`tests/unit/exchange/test_mexc_spot.py` regenerates them into a temp dir and compares.

This package does not import protobuf itself: `fxcli.exchange.mexc_spot` imports the wrapper module on
the first binary frame, so `fx --help` never pays for it. The message names are global (no `package`):
do not load ccxt's or pymexc's copies of the same classes in the same process.
"""
