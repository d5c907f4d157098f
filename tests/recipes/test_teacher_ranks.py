"""recipes/utils/teacher_ranks.py: how often a teacher's similarity orders two estimates of
the same source as their SI-SDR does, pooled over the seeds of each pair of rows."""

import pytest

from asteroid_wsas.separation.contract import MissingEncoderError
from tests.helpers import recipe_utility


@pytest.fixture(scope="module")
def ranks():
    return recipe_utility("teacher_ranks")


def test_pairs_within_the_margin_are_left_out_and_the_others_counted(ranks):
    a = [(8.0, 0.5, True), (4.0, 0.1, True), (3.0, 0.9, False), (1.0, 0.2, True)]
    b = [(2.0, 0.1, True), (7.0, 0.3, True), (2.5, 0.0, True), (5.0, 0.1, False)]
    # source 0: a better, teacher agrees; 1: b better, agrees; 2: 0.5 dB apart, left out;
    # 3: b better, the teacher prefers a
    assert ranks.preference_agreement(a, b, margin=1.0) == (3, 2)
    assert ranks.preference_agreement(a, b, margin=0.25) == (4, 3)
    assert ranks.preference_agreement(a, b, margin=10.0) == (0, 0)


def test_seeds_pool_into_their_rows(ranks):
    good = [(6.0, 0.6, True)] * 4
    bad = [(1.0, 0.2, True)] * 4
    fooled = [(1.0, 0.9, True)] * 4  # worse, but the teacher likes it more
    runs = {"sup0": good, "sup1": good, "mas0": bad, "weak0": fooled, "weak1": fooled}
    assert ranks.row_of("weak12") == "weak" and ranks.row_of("42") == "42"
    lines = ranks.agreement_table(runs)
    rows = {line.split("|")[1].strip(): line for line in lines[2:]}
    assert rows["mas / sup"] == "| mas / sup | 8 | 100.0 % |"  # 2 seed pairs x 4 sources
    assert rows["sup / weak"] == "| sup / weak | 16 | 0.0 % |"
    assert rows["mas / weak"] == "| mas / weak | 0 | - |"  # same SI-SDR: no pair counted
    assert rows["sup / sup"] == "| sup / sup | 0 | - |" and "weak / weak" in rows


def test_a_run_is_queried_with_the_encoder_it_was_trained_with(ranks, tmp_path):
    run = tmp_path / "seed0"
    run.mkdir()
    with pytest.raises(MissingEncoderError, match="no conf.yml beside it names one"):
        ranks.trained_encoder(str(run))
    (run / "conf.yml").write_text("data: {n_sources: 2}\n")
    with pytest.raises(MissingEncoderError, match="no conf.yml beside it names one"):
        ranks.trained_encoder(str(run))
    gone = tmp_path / "elsewhere" / "tiny_2src.pth"
    (run / "conf.yml").write_text(f"encoder:\n  name: {gone}\n")
    with pytest.raises(MissingEncoderError, match=f"the encoder file {gone} .* is not there"):
        ranks.trained_encoder(str(run))
    gone.parent.mkdir()
    gone.write_bytes(b"")
    assert ranks.trained_encoder(str(run)) == str(gone)
    (run / "conf.yml").write_text("encoder:\n  name: laion/clap-htsat-unfused\n")
    assert ranks.trained_encoder(str(run)) == "laion/clap-htsat-unfused"  # a hub id
    (run / "conf.yml").write_text("encoder:\n  name: tiny\n")  # the run's own stage-2 file
    with pytest.raises(MissingEncoderError, match="encoder/tiny.pth"):
        ranks.trained_encoder(str(run))
