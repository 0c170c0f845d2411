"""`fx optimize report STUDY`: is the study's winner real? PSR, DSR, MinTRL, MinBTL and PBO.

Everything is computed from the study's return matrix (fxcli.optimize.returns), rewritten first as
returns.parquet in the study folder so the report's inputs are on disk beside it:

* the best trial is the study's pick (fxcli.optimize.results.best_trial); its Sharpe ratio, skew,
  kurtosis (not excess) and T are those of its returns per bucket (not annualised);
* N, the number of trials the DSR and MinBTL deflate for, is every trial the strategy's ledger counts
  over all its studies (complete, pruned, failed; not infeasible or abandoned points), so re-running
  searches cannot hide trials; the study's own count when it has no ledger (another --out);
* the variance of the trials' Sharpe ratios is over the complete trials whose SR is defined (a trial
  that never trades has no SR), ddof = 1;
* PBO is CSCV over all complete trials with `blocks` blocks (fxcli.optimize.stats.pbo), the
  Sharpe ratio of each half (ties between trials are kept);
* `by="events"`: the same statistics over the per-event return matrix (event x trial,
  fxcli.optimize.event_returns) instead of the buckets' (a study run with --events).

A value that cannot be computed (too few buckets or trials, a flat best trial) is None with the
reason under `reasons`, and the verdict says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fxcli.errors import FxError
from fxcli.optimize.event_returns import event_matrix, write_event_returns
from fxcli.optimize.results import best_trial, clean, config_of, counts
from fxcli.optimize.returns import Returns, returns_matrix, write_returns
from fxcli.optimize.stats import sharpe
from fxcli.optimize.stats.pbo import PBOResult, pbo
from fxcli.optimize.study import counted
from fxcli.tasks.holdout import ledger_document
from fxcli.tasks.optimize_report import EVENT_RETURNS_FILE, RETURNS_FILE, open_study

SR_DDOF = 1
SIGNIFICANT = 0.95  # PSR and DSR: the probability the true SR is above its benchmark
PBO_OVERFIT = 0.5  # PBO above this: the IS winner is below the OOS median in most splits
PBO_LOW = 0.2  # PBO at or below this: the IS winner stays above the OOS median in 4 splits of 5
YEAR_NS = 365.25 * 86_400 * 1e9
MIN_BTL_TARGET_SR = 1.0  # MinBTL's annualised Sharpe ratio


BY = ("buckets", "events")


def report(
    name: str, out: Path, storage: str | None, *, blocks: int = 16, by: str = "buckets"
) -> tuple[dict[str, Any], PBOResult | None]:
    """The report's document (see the module docstring) and the CSCV result for the plots."""
    if blocks < 2 or blocks % 2:
        raise FxError(f"--blocks {blocks}: must be an even number >= 2")
    if by not in BY:
        raise FxError(f"--by {by!r}: not one of {', '.join(BY)}")
    study = open_study(name, out, storage)
    trials = study.get_trials(deepcopy=False)
    folder = out / "optimize" / name
    returns_file = None
    if by == "events":
        matrix, events = event_matrix(trials)
        folder.mkdir(parents=True, exist_ok=True)
        write_event_returns(matrix, events, folder / EVENT_RETURNS_FILE)
        returns_file = str(folder / EVENT_RETURNS_FILE)
    else:
        matrix = returns_matrix(trials)
        if matrix.trials:
            folder.mkdir(parents=True, exist_ok=True)
            write_returns(matrix, folder / RETURNS_FILE)
            returns_file = str(folder / RETURNS_FILE)
    n_study = sum(1 for t in trials if t.state.is_finished() and counted(t))
    strategy = config_of(study).get("strategy_name")
    ledger = ledger_document(out, strategy) if strategy else None
    n_trials = max(n_study, ledger["total_trials"]) if ledger else n_study
    reasons: dict[str, str] = {}
    best = best_trial(study)
    document: dict[str, Any] = {
        "study": name,
        "trials": counts(study),
        "trials_counted": n_trials,
        "trials_counted_by": "ledger" if ledger else "study",
        "trials_in_study": n_study,
        "ledger": ledger,
        "trials_in_matrix": len(matrix.trials),
        "by": by,
        # by events: a row is an event and its "bucket" the event's window (before + after)
        "bucket_s": matrix.bucket_ns / 1e9,
        "buckets": int(matrix.values.shape[0]),
        "window": _window(matrix),
        "returns_file": returns_file,
        "best_trial": best.number if best is not None else None,
        "sharpe": None,
        "psr": None,
        "dsr": None,
        "min_trl": None,
        "min_btl": None,
        "pbo": None,
        "reasons": reasons,
    }
    if best is None or best.number not in matrix.trials:
        reasons["best"] = "no trial completed within the constraints"
    else:
        _sharpe_stats(document, matrix, best.number, n_trials, reasons, by)
    result = _pbo(document, matrix, blocks, reasons)
    document["verdict"] = verdict(document)
    return clean(document), result


def _row(by: str) -> str:
    """What a row of the matrix is, plural."""
    return "events" if by == "events" else "time buckets"


def _window(matrix: Returns) -> dict[str, Any] | None:
    if not len(matrix.starts_ns):
        return None
    lo, hi = int(matrix.starts_ns[0]), int(matrix.starts_ns[-1]) + matrix.bucket_ns
    return {"from_ns": lo, "to_ns": hi, "years": (hi - lo) / YEAR_NS}


def _sharpe_stats(
    document: dict[str, Any], matrix: Returns, best: int, n_trials: int, reasons: dict[str, str], by: str
) -> None:
    """PSR, DSR, MinTRL of the best trial; MinBTL of N trials (filled in `document`)."""
    document["min_btl"] = {
        "years": sharpe.min_btl(n_trials, MIN_BTL_TARGET_SR),
        "target_annual_sr": MIN_BTL_TARGET_SR,
        "n_trials": n_trials,
    }
    if matrix.values.shape[0] < 2:
        fewer = "more events" if by == "events" else "a smaller --bucket"
        reasons["sharpe"] = f"{matrix.values.shape[0]} {_row(by)}: a Sharpe ratio needs 2 (use {fewer})"
        return
    m = sharpe.moments(matrix.column(best))
    if math.isnan(m.sr):
        reasons["sharpe"] = f"trial {best}'s returns do not vary: its Sharpe ratio is undefined"
        return
    per = _row(by).removesuffix("s")
    document["sharpe"] = {"value": m.sr, "per": per, "t": m.t, "skew": m.skew, "kurtosis": m.kurtosis}
    document["psr"] = sharpe.psr(m.sr, m.t, m.skew, m.kurtosis)
    trl = sharpe.min_trl(m.sr, m.skew, m.kurtosis, 0.0, SIGNIFICANT)
    document["min_trl"] = {
        "buckets": trl if math.isfinite(trl) else None,
        # events are not evenly spaced in time: their track record is a count, not hours
        "hours": trl * matrix.bucket_ns / 3.6e12 if math.isfinite(trl) and by == "buckets" else None,
        "confidence": SIGNIFICANT,
    }
    if not math.isfinite(trl):
        reasons["min_trl"] = "the best trial's Sharpe ratio is not above 0: no track record is long enough"
    srs = np.array([sharpe.moments(matrix.values[:, j]).sr for j in range(len(matrix.trials))])
    defined = int(np.sum(~np.isnan(srs)))
    if defined <= SR_DDOF:
        reasons["dsr"] = f"{defined} trial(s) with a defined Sharpe ratio: their variance needs 2"
        return
    variance = sharpe.sr_variance(srs, ddof=SR_DDOF)
    document["dsr"] = {
        "value": sharpe.dsr(m.sr, m.t, m.skew, m.kurtosis, n_trials, variance),
        "n_trials": n_trials,
        "sr_variance": variance,
        "sr_variance_ddof": SR_DDOF,
        "sr_variance_trials": defined,
        "expected_max_sr": sharpe.expected_max_sr(n_trials, variance),
        "skew": m.skew,
        "kurtosis": m.kurtosis,
        "t": m.t,
    }


def _pbo(document: dict[str, Any], matrix: Returns, blocks: int, reasons: dict[str, str]) -> PBOResult | None:
    # Most buckets of a strategy that waits for signals are exactly 0, and a sampler repeats points:
    # CSCV's ranks then hang on exact ties, which pbo()'s block-sum path keeps as its per-split path
    # does (a flat half has SR 0, equal trials tie; tests/unit/optimize/stats/test_pbo.py).
    try:
        result = pbo(matrix.values, blocks)
    except FxError as exc:
        reasons["pbo"] = str(exc).removeprefix("PBO: ")
        return None
    document["pbo"] = {
        "value": result.value,
        "splits": result.splits,
        "blocks": result.blocks,
        "p_oos_loss": result.p_oos_loss,
        "degradation": {"slope": result.slope, "intercept": result.intercept},
        "rows_dropped": result.rows_dropped,
        "metric": f"Sharpe ratio per {_row(document['by']).removesuffix('s')} (ddof 1) of each half",
    }
    return result


def verdict(document: dict[str, Any]) -> list[str]:
    """Plain-language lines, each with the threshold it uses."""
    lines: list[str] = []
    reasons = document["reasons"]
    psr = document["psr"]
    if psr is None:
        lines.append(f"PSR: undefined ({reasons.get('best') or reasons.get('sharpe')})")
    else:
        word = "significant" if psr >= SIGNIFICANT else "not significant"
        lines.append(
            f"PSR(0) {psr:.3f}: the best trial's Sharpe ratio is {word} on its own (threshold {SIGNIFICANT})"
        )
    dsr = document["dsr"]
    if dsr is None:
        lines.append(f"DSR: undefined ({reasons.get('dsr') or reasons.get('best') or reasons.get('sharpe')})")
    elif dsr["value"] >= SIGNIFICANT:
        lines.append(f"DSR {dsr['value']:.3f} >= {SIGNIFICANT}: significant after {dsr['n_trials']} trials")
    else:
        lines.append(
            f"DSR {dsr['value']:.3f} < {SIGNIFICANT}: not significant after {dsr['n_trials']} trials"
        )
    trl = document["min_trl"]
    if trl is not None and document["sharpe"] is not None:
        t = document["sharpe"]["t"]
        unit = "events" if document.get("by") == "events" else "buckets"
        if trl["buckets"] is None:
            lines.append("MinTRL: infinite (Sharpe ratio <= 0): no track record would make it significant")
        elif trl["buckets"] > t:
            lines.append(f"MinTRL {trl['buckets']:.1f} {unit} > T = {t}: the track record is too short")
        else:
            lines.append(f"MinTRL {trl['buckets']:.1f} {unit} <= T = {t}: the track record is long enough")
    btl, window = document["min_btl"], document["window"]
    if btl is not None and window is not None:
        short = window["years"] < btl["years"]
        lines.append(
            f"MinBTL {btl['years']:.3g} years for {btl['n_trials']} trials "
            f"(annual SR {btl['target_annual_sr']:g}); "
            f"the data spans {window['years']:.3g} years: "
            + ("too short, a skill-less search can reach that SR by luck" if short else "long enough")
        )
    result = document["pbo"]
    if result is None:
        lines.append(f"PBO: undefined ({reasons.get('pbo')})")
    else:
        value = result["value"]
        if value > PBO_OVERFIT:
            judged = f"> {PBO_OVERFIT}: likely overfit"
        elif value > PBO_LOW:
            judged = f"in ({PBO_LOW}, {PBO_OVERFIT}]: inconclusive, the pick is barely better than chance"
        else:
            judged = f"<= {PBO_LOW}: little sign of overfitting"
        lines.append(f"PBO {value:.3f} {judged} ({result['splits']} splits of {result['blocks']} blocks)")
        loss = result["p_oos_loss"]
        lines.append(
            f"P(OOS loss) {loss:.3f}: "
            + (
                "the in-sample winner loses out of sample in most splits"
                if loss > 0.5
                else "the in-sample winner mostly does not lose out of sample"
            )
            + " (threshold 0.5)"
        )
        slope = result["degradation"]["slope"]
        if slope is None or not math.isfinite(slope):
            lines.append("degradation slope: undefined (the winners' in-sample Sharpe ratios do not vary)")
        else:
            lines.append(
                f"degradation slope {slope:.3f}: "
                + (
                    "in-sample gains do not carry out of sample (slope <= 0)"
                    if slope <= 0
                    else "out-of-sample follows in-sample (slope > 0)"
                )
            )
    return lines
