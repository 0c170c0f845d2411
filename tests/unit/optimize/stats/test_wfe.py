"""Walk-forward efficiency both ways (fixture F11) and its undefined cases."""

from __future__ import annotations

import pytest

from fxcli.errors import FxError
from fxcli.optimize.stats.wfe import wfe

TRAIN = [(0.18, 180.0), (0.12, 180.0), (0.24, 180.0)]
TEST = [(0.02, 30.0), (-0.01, 30.0), (0.03, 30.0)]


def test_wfe_f11_stitched_and_mean_differ() -> None:
    result = wfe(TRAIN, TEST)

    assert result.stitched == pytest.approx(0.444444, abs=1e-6)
    assert result.mean == pytest.approx(0.305556, abs=1e-6)
    assert result.per_fold == pytest.approx((0.666667, -0.5, 0.75), abs=1e-6)


def test_wfe_duration_unit_cancels() -> None:
    seconds = 86_400.0

    result = wfe([(r, d * seconds) for r, d in TRAIN], [(r, d * seconds) for r, d in TEST])

    assert result.stitched == pytest.approx(0.444444, abs=1e-6)
    assert result.mean == pytest.approx(0.305556, abs=1e-6)


def test_wfe_losing_train_fold_has_no_ratio() -> None:
    result = wfe([(-0.1, 10.0), (0.2, 10.0)], [(0.05, 5.0), (0.05, 5.0)])

    assert result.per_fold[0] is None
    assert result.mean == pytest.approx(0.5)
    assert result.stitched == pytest.approx((0.1 / 10.0) / ((-0.01 + 0.02) / 2))


def test_wfe_all_train_losing_is_undefined() -> None:
    result = wfe([(-0.1, 10.0)], [(0.05, 5.0)])

    assert result.stitched is None
    assert result.mean is None


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [
        ([(0.1, 1.0)], [], "1 train windows but 0 test"),
        ([], [], "at least one fold"),
        ([(0.1, 0.0)], [(0.1, 1.0)], "train window 0 has duration 0"),
    ],
)
def test_wfe_bad_folds_raise(
    train: list[tuple[float, float]], test: list[tuple[float, float]], message: str
) -> None:
    with pytest.raises(FxError, match=message):
        wfe(train, test)
