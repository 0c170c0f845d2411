"""The other account really is bound by file modes, so the permission tests cannot pass vacuously."""

from __future__ import annotations

from pathlib import Path

from tests.other_user import run_fx_as_other


def test_a_mode_000_file_is_unreadable_to_the_other_account(tmp_path: Path) -> None:
    secret = tmp_path / "fx.toml"
    secret.write_text('data_dir = "x"\n')
    secret.chmod(0)
    result = run_fx_as_other("inspect", cwd=tmp_path, env={"FX_CONFIG": str(secret)})
    assert result.returncode == 2, result.stderr
    assert "Permission denied" in result.stderr
