"""The paper's tables: which runs fill which cells, and the tables from their scores."""

import json

import numpy as np
import pytest

from asteroid_wsas.cli import main
from asteroid_wsas.reporting.paper import paper_runs, paper_tables, table1_runs, table2_runs
from tests.reporting.test_report import _run


def test_table1_fills_the_columns_each_method_has():
    runs = {r.folder: r for r in table1_runs(["pit", "lassnet", "weak"], counts=(2, 4))}
    assert list(runs) == [
        "table1/pit/clean",
        "table1/lassnet/clean",
        "table1/lassnet/2src",
        "table1/lassnet/4src",
        "table1/weak/2src",
        "table1/weak/4src",
    ]
    assert (
        runs["table1/pit/clean"].method == "pit:clean" and runs["table1/pit/clean"].n_sources == 2
    )
    assert runs["table1/lassnet/4src"].method == "lassnet:mixtures"
    assert (
        runs["table1/lassnet/4src"].n_sources == 4 and runs["table1/lassnet/4src"].encoder == "bert"
    )
    assert runs["table1/weak/2src"].encoder == "-"


def test_rows_that_differ_only_in_a_missing_text_encoder_share_their_runs(tmp_path):
    names = ["clipsep_text", "clipsep_text_star", "bertsep_star", "clapsep_star", "lassnet"]
    alone = paper_runs(names, (2,), None)
    assert len(alone) == 5 * 2  # each row its clean and 2-source runs
    shared = paper_runs(names, (2,), None, fallback=("bert", "clip"))
    folders = [r.folder for r in shared]
    assert len(folders) == 3 * 2 and "table1/clapsep_star/2src" in folders
    star = next(r for r in shared if r.folder == "table1/clapsep_star/2src")
    assert star.method == "clapsep_star:mixtures" and star.encoder == "-"
    assert star.cells == [("1", n, "2src") for n in names[1:4]]
    # CLIPSep-Text has its own model, LASS-Net too: still their own runs
    assert {"table1/clipsep_text/2src", "table1/lassnet/2src"} <= set(folders)
    only_clip = paper_runs(names, (2,), None, fallback=("clip",))
    assert len(only_clip) == 4 * 2  # BertSep* keeps its BERT run
    for run in shared:
        _run(tmp_path / run.folder / "seed0", np.linspace(0, 2, 20))
    data = paper_tables(tmp_path, shared, tmp_path / "r.md", n_resamples=50)
    cells = {n: data["table1"][n]["columns"]["2src"]["sdr"]["mean"] for n in names[1:4]}
    assert len(set(cells.values())) == 1 and len(data["table1"]) == 5


def test_table2_rows_and_shared_cells_train_once():
    rows = table2_runs((5, 25), counts=(2, 3))
    assert [r.folder for r in rows] == [
        "table1/clapsep_star/clean",
        "table2/supervised_5pct",
        "table1/weak/2src",
        "table2/semi_5pct_2src",
        "table2/semi_5pct_3src",
        "table2/semi_25pct_2src",
    ]
    assert rows[1].overrides == ["data.supervised_fraction=0.05"]
    assert rows[5].overrides == ["data.clean_fraction=0.25"] and rows[5].n_sources == 2
    merged = paper_runs(["weak", "clapsep_star"], (2, 3), (5, 25))
    folders = [r.folder for r in merged]
    assert len(folders) == len(set(folders))  # each cell's run once
    weak2 = next(r for r in merged if r.folder == "table1/weak/2src")
    assert weak2.cells == [("1", "weak", "2src"), ("2", "unsupervised_2", "")]
    with pytest.raises(ValueError, match="fractions"):
        table2_runs(())


def test_table2_cross_dataset_rows_point_at_both_datasets():
    rows = {r.folder: r for r in table2_runs((5,), counts=(2, 3), cross="vggsound")}
    music_clean = rows["table2/semi_music_clean_vggsound_2src"]
    assert (music_clean.data, music_clean.clean_data) == ("vggsound", "music")
    assert music_clean.meta == {
        "Training": "Semi-supervised",
        "Test set": "MUSIC-2Mix",
        "Single-source": "MUSIC 100 %",
        "Mixtures": "VGGSound 100 %",
        "#Sources": "2",
    }
    roots = {"music": "/d/m", "vggsound": "/d/v"}
    assert music_clean.data_overrides(roots) == [
        "data.dataset=vggsound",
        "data.root=/d/v",
        "data.clean_data.dataset=music",
        "data.clean_data.root=/d/m",
    ]
    vgg3 = rows["table2/semi_vggsound_clean_music_3src"]
    assert vgg3.n_sources == 3 and vgg3.data is None and vgg3.method == "semi:mixtures"
    assert vgg3.data_overrides(roots) == [
        "data.clean_data.dataset=vggsound",
        "data.clean_data.root=/d/v",
    ]
    assert rows["table2/semi_5pct_2src"].data_overrides({}) == []  # the recipe's own data
    assert music_clean.teacher() == "music+vggsound" and music_clean.test is None
    # VGGSound's own part, scored on its own test set, and nothing on AudioCaps without it
    own = [f for f in rows if f.startswith("table2/vggsound/")]
    assert own == [
        "table2/vggsound/supervised_100pct",
        "table2/vggsound/supervised_5pct",
        "table2/vggsound/unsupervised_2src",
        "table2/vggsound/semi_5pct_2src",
    ]
    vgg_semi = rows["table2/vggsound/semi_5pct_2src"]
    assert (vgg_semi.data, vgg_semi.test, vgg_semi.clean_data) == ("vggsound", "vggsound", None)
    assert vgg_semi.meta["Test set"] == "VGGSound-2Mix" and vgg_semi.teacher() == "vggsound"
    assert vgg_semi.overrides == ["data.clean_fraction=0.05"]
    assert len(rows) == 5 + 3 + 4 and not any(
        "clean_" in f for f in [r.folder for r in table2_runs((5,), (2, 3))]
    )
    with pytest.raises(ValueError, match="--data-root vggsound=PATH"):
        vgg3.data_overrides({"music": "/d/m"})
    with pytest.raises(ValueError, match="labelled solos other than"):
        table2_runs((5,), cross="audiocaps")
    with pytest.raises(ValueError, match="captions needs cross"):
        table2_runs((5,), captions="audiocaps")


def test_table2_captioned_part_and_the_last_fraction():
    rows = {r.folder: r for r in table2_runs((5, 75), (2,), "vggsound", "audiocaps")}
    assert "table2/vggsound/semi_75pct_2src" in rows  # the first and last fractions
    assert "table2/vggsound/semi_25pct_2src" not in rows
    caps = rows["table2/audiocaps/semi_vggsound_clean"]
    assert (caps.data, caps.clean_data, caps.test) == ("audiocaps", "vggsound", "audiocaps")
    assert caps.meta["Test set"] == "AudioCaps-2Mix" and caps.meta["#Sources"] == "1-N"
    assert caps.teacher() == "audiocaps+vggsound"
    assert caps.data_overrides({"audiocaps": "/a", "vggsound": "/v"}) == [
        "data.dataset=audiocaps",
        "data.root=/a",
        "data.clean_data.dataset=vggsound",
        "data.clean_data.root=/v",
    ]
    weak = rows["table2/audiocaps/unsupervised"]
    assert weak.method == "weak:mixtures" and weak.meta["Single-source"] == "-"


def test_tables_from_scores_in_the_seeds_order_with_missing_cells(tmp_path):
    runs = paper_runs(["pit", "mixpit", "weak"], (2, 3), (5,))
    rng = np.random.default_rng(0)
    level = {"pit": 8.0, "mixpit": 3.0, "weak": 6.0, "clapsep_star": 7.5, "table2": 5.0}
    for run in runs:
        if run.folder == "table1/mixpit/3src":
            continue  # not trained yet: its cell shows "-"
        key = run.folder.split("/")[1] if run.folder.startswith("table1") else "table2"
        for seed in (0, 1):
            _run(tmp_path / "exp" / run.folder / f"seed{seed}", level[key] + rng.normal(0, 1, 30))
    out = tmp_path / "exp" / "results.md"
    data = paper_tables(tmp_path / "exp", runs, out, "T", ["Machine: x"], n_resamples=200)
    text = out.read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert (
        lines[0] == "| Method | group | seeds | Single-source (supervised) | 2-source | 3-source |"
    )
    assert [ln.split("|")[1].strip() for ln in lines[1:4]] == [
        "PIT*",
        "MixPIT",
        "Proposed (w/ Bi-modal CLAP)",
    ]
    pit = [c.strip() for c in lines[1].split("|")[4:-1]]
    assert pit[0].startswith("8.") and pit[1:] == ["-", "-"]  # clean column only
    mixpit = [c.strip() for c in lines[2].split("|")[4:-1]]
    assert mixpit[0] == "-" and mixpit[1].startswith("3.") and mixpit[2] == "-"
    assert data["table1"]["mixpit"]["columns"]["3src"] is None
    assert list(data["table2"]) == [
        "supervised_100",
        "supervised_5",
        "unsupervised_2",
        "semi_5_2",
        "semi_5_3",
    ]
    assert data["table2"]["supervised_100"]["columns"][""]["seeds"] == 2
    cell = data["table1"]["weak"]["columns"]["2src"]["sdr"]
    assert cell["low"] < cell["mean"] < cell["high"]  # Student-t over the two seeds
    assert "| Supervised | MUSIC-2Mix | MUSIC 100 % | - | - | 2 |" in text and "Machine: x" in text
    for table in (1, 2):
        assert (tmp_path / "exp" / f"results_table{table}.png").stat().st_size > 1000
    assert json.loads((tmp_path / "exp" / "results.json").read_text())["mixtures"] == 30
    with pytest.raises(FileExistsError):
        paper_tables(tmp_path / "exp", runs, out)


def test_table2_with_several_test_sets_compares_each_on_its_own(tmp_path):
    runs = paper_runs(["weak"], (2,), (5,), cross="vggsound")
    sizes = {None: 30, "vggsound": 12}
    for run in runs:
        level = 4.0 if run.test is None else 1.0
        _run(tmp_path / run.folder / "seed0", level + np.linspace(-1, 1, sizes[run.test]))
    data = paper_tables(tmp_path, runs, tmp_path / "r.md", n_resamples=100)
    assert data["test_sets"] == {"-": 30, "vggsound": 12} and data["mixtures"] == 30
    tests = [e["meta"]["Test set"] for e in data["table2"].values()]
    assert tests == sorted(tests, key=["MUSIC-2Mix", "VGGSound-2Mix"].index)  # grouped
    vgg = data["table2"]["vggsound_semi_5_2"]["columns"][""]["sdr"]["mean"]
    assert abs(vgg - 1.0) < 1e-6
    assert "over the 30 / 12 (VGGSound-2Mix) mixtures" in (tmp_path / "r.md").read_text()


def test_paper_cli_lists_runs_and_refuses_an_empty_experiment(tmp_path, capsys):
    main(["paper-runs", "--methods", "mixit", "--counts", "2", "--no-table2"])
    assert capsys.readouterr().out.splitlines() == ["table1/mixit/2src\tmixit:mixtures\t2\t-\t-\t-"]
    main(["paper-runs", "--methods", "weak", "--counts", "2", "--fractions", "5"])
    lines = capsys.readouterr().out.splitlines()
    assert (
        "table2/supervised_5pct\tclapsep_star:clean\t2\t-\t-\t-\tdata.supervised_fraction=0.05"
        in lines
    )
    root = tmp_path / "v"
    main(
        ["paper-runs", "--methods", "weak", "--counts", "2", "--fractions", "5"]
        + ["--cross", "vggsound", "--data-root", f"vggsound={root}", "--data-root", "music=m"]
    )
    lines = capsys.readouterr().out.splitlines()
    cross = [ln for ln in lines if "vggsound_clean" in ln]
    assert cross == [
        "table2/semi_vggsound_clean_music_2src\tsemi:mixtures\t2\t-\t-\tmusic+vggsound\t"
        f"data.clean_data.dataset=vggsound\tdata.clean_data.root={root}"
    ]
    main(
        [
            "paper-runs",
            "--methods",
            "mixit",
            "pit",
            "--counts",
            "2",
            "3",
            "--only",
            "*/pit/*",
            "*3src",
        ]
    )
    assert [ln.split("\t")[0] for ln in capsys.readouterr().out.splitlines()] == [
        "table1/mixit/3src",
        "table1/pit/clean",
        "table2/semi_5pct_3src",
    ]
    with pytest.raises(SystemExit, match="matches no run"):
        main(["paper-runs", "--only", "table3/*"])
    with pytest.raises(SystemExit, match="needs the root of .vggsound"):  # nothing printed
        main(["paper-runs", "--counts", "2", "--fractions", "5", "--cross", "vggsound"])
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit, match="no scored run"):
        main(["paper-tables", str(tmp_path), "-o", str(tmp_path / "r.md")])
