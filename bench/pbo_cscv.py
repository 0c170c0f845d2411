"""PBO by CSCV on a trials x blocks matrix: fx's vectorised path vs one metric call per split.

The peer is the straightforward algorithm (the oracle of optimize.md §3.6: per split, Sharpe of the
in-sample and out-of-sample rows of every trial), run through `pbo(..., metric=<a plain callable>)`
on the same matrix. It is timed on its first `--peer-splits` splits and scaled to all of them (it is
linear in the number of splits); both paths are checked to give the same PBO on a small matrix.

    .venv/bin/python bench/pbo_cscv.py --trials 2000 --blocks 16 --rows-per-block 20
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time

import numpy as np

from fxcli.optimize.stats import pbo as pbo_module
from fxcli.optimize.stats.pbo import pbo, sharpe_metric


def plain_sharpe(rows: np.ndarray) -> np.ndarray:
    """The same Sharpe, through a callable the vectorised path does not recognise."""
    return sharpe_metric(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--rows-per-block", type=int, default=20)
    parser.add_argument("--peer-splits", type=int, default=300)
    args = parser.parse_args()
    print(f"load (1 min): {os.getloadavg()[0]:.2f}")
    rng = np.random.RandomState(7)
    matrix = rng.standard_normal((args.blocks * args.rows_per_block, args.trials)) * 0.01
    splits = math.comb(args.blocks, args.blocks // 2)

    small = matrix[:, :50]
    assert pbo(small, args.blocks).value == pbo(small, args.blocks, plain_sharpe).value

    started = time.perf_counter()
    result = pbo(matrix, args.blocks)
    fx_s = time.perf_counter() - started

    peer_splits = min(args.peer_splits, splits)
    combos = np.array(list(itertools.combinations(range(args.blocks), args.blocks // 2)), dtype=np.intp)
    started = time.perf_counter()
    pbo_module._by_calls(matrix, args.blocks, combos[:peer_splits], plain_sharpe)
    peer_s = (time.perf_counter() - started) * splits / peer_splits

    print(
        f"matrix {matrix.shape[0]} rows x {args.trials} trials, S = {args.blocks}: "
        f"{splits} splits, PBO {result.value:.4f}"
    )
    print(
        f"fx vectorised: {fx_s:.2f} s; one metric call per split: {peer_s:.1f} s "
        f"(scaled from {peer_splits} splits)"
    )
    print(f"ratio: fx is {peer_s / fx_s:.1f}x faster")
    print("\n| matrix | splits | fx vectorised | per-split calls | ratio |\n|---|---|---|---|---|")
    print(
        f"| {matrix.shape[0]} x {args.trials} | {splits} | {fx_s:.2f} s "
        f"| {peer_s:.1f} s | {peer_s / fx_s:.1f}x |"
    )


if __name__ == "__main__":
    main()
