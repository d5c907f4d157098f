"""recipes/utils/sweep_table.py: a sweep's table from the runs' validation logs; a run still
training (no best_model.pth) is said so, never read as a result."""

from pathlib import Path

import pytest

from tests.helpers import recipe_utility


@pytest.fixture(scope="module")
def sweep():
    return recipe_utility("sweep_table")


def _run(folder: Path, curve, finished: bool = True) -> None:
    """A run's validation log: (step, val_sdr, val_sdri) rows between training rows."""
    (folder / "logs").mkdir(parents=True)
    lines = ["epoch,loss,step,val_sdr,val_sdri"]
    for step, sdr, sdri in curve:
        lines += [f"0,0.5,{step - 1},,", f"0,,{step},{sdr},{sdri}"]
    (folder / "logs" / "metrics.csv").write_text("\n".join(lines) + "\n")
    if finished:
        (folder / "best_model.pth").write_bytes(b"")


def test_rows_keep_the_best_validation_sdr_and_say_runs_still_training(sweep, tmp_path):
    base, wide, deep, gone = (tmp_path / n for n in ("base", "wide", "deep", "gone"))
    _run(base / "seed0", [(200, 5.0, 4.0), (400, 7.0, 6.5), (600, 6.0, 6.9)])
    _run(base / "seed1", [(200, 6.0, 5.5), (400, 8.0, 7.5)])
    _run(wide / "seed0", [(200, 9.0, 8.0)])
    _run(wide / "seed1", [(200, 1.0, 0.5)], finished=False)  # its best so far: no result
    _run(deep / "seed0", [(200, 3.0, 2.0)], finished=False)
    rows = {"base": base, "wider": wide, "deeper": deep, "more": gone}
    table, missing = sweep.sweep_table(rows, "Sweep")
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if "|" in line}
    # the kept checkpoint is the best SDR's (step 400), its SDRi 6.5 and 7.5: mean 7.00
    assert (
        lines["base"]
        == "| base | 2 | 7.00 ± 0.71 | +0.00 | yes | 7.50 ± 0.71 | 400, 400 | 7.20 ± 0.42 |"
    )
    assert (
        lines["wider"]
        == "| wider | 1 (1 still training) | 8.00 | +1.00 | yes | 9.00 | 200 | 8.00 |"
    )
    assert lines["deeper"] == f"| deeper | 0 | still training ({deep}) | | | | | |"
    assert lines["more"] == f"| more | 0 | not trained yet ({gone}) | | | | | |"
    assert missing == 2


def test_no_row_is_compared_while_the_base_has_no_finished_run(sweep, tmp_path):
    base, wide = tmp_path / "base", tmp_path / "wide"
    _run(base / "seed0", [(200, 5.0, 4.0)], finished=False)
    _run(wide / "seed0", [(200, 9.0, 8.0)])
    table, missing = sweep.sweep_table({"base": base, "wider": wide}, "Sweep")
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if "|" in line}
    # the wider row is no base of its own: its 'vs base' cell stays empty
    assert lines["wider"] == "| wider | 1 | 8.00 |  | yes | 9.00 | 200 | 8.00 |"
    assert lines["base"] == f"| base | 0 | still training ({base}) | | | | | |"
    assert missing == 1
