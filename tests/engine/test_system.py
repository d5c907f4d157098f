"""WeakSupSystem under Lightning: every objective, bf16, clipping, checkpoints, resume, DDP."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import CombinedLoader
from torch.utils.data import DataLoader

from asteroid_wsas import TextCondUNet
from asteroid_wsas.data import (
    MixtureGroups,
    ResumableLoader,
    SingleSources,
    collate_groups,
    collate_test_items,
    mixture_of_mixtures,
)
from asteroid_wsas.engine import WeakSupSystem, checkpoint_callbacks
from tests.helpers import test_items, tiny_encoder, tiny_unet, weak_items

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVES = ["weak", "mix_and_separate", "supervised", "semi", "mixit", "pit", "mixpit"]


@pytest.fixture(autouse=True)
def quiet_lightning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*GPU available but not used.*")
        yield


def all_texts(items):
    texts = []
    for it in items:
        texts += [it["caption"]] + list(it["phrases"])
    return texts


def loaders(objective, n_items=8, shuffle=False):
    weak = weak_items(n_items)
    val = DataLoader(test_items(4), batch_size=2, collate_fn=collate_test_items)
    # mixtures of mixtures whose mixtures share no phrase (MixtureGroups): 8 groups, 2
    # batches per epoch
    weak_loader = ResumableLoader(
        MixtureGroups(weak), batch_size=4, collate_fn=collate_groups, shuffle=shuffle
    )
    clean_loader = DataLoader(
        MixtureGroups(SingleSources(weak.dataset)), batch_size=4, collate_fn=collate_groups
    )
    train = {
        "weak": weak_loader,
        "mix_and_separate": weak_loader,
        "mixit": weak_loader,
        "mixpit": weak_loader,
        "supervised": clean_loader,
        "pit": clean_loader,
        "semi": CombinedLoader({"clean": clean_loader, "weak": weak_loader}, "max_size_cycle"),
    }[objective]
    texts = all_texts(weak[i] for i in range(len(weak))) + [
        q for it in test_items(4) for q in it["queries"]
    ]
    return train, val, texts


def make_system(objective="weak", config=None, **loader_kwargs):
    train, val, texts = loaders(objective, **loader_kwargs)
    torch.manual_seed(0)
    return WeakSupSystem(
        tiny_unet(),
        tiny_encoder(texts),
        objective,
        train,
        val,
        config=config or {"optim": {"lr": 1e-3}},
    )


def trainer(**kwargs):
    options = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing="callbacks" in kwargs,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_runs_a_fast_dev_run_with_validation_sdr(objective):
    system = make_system(objective)
    run = trainer(fast_dev_run=True)
    run.fit(system)
    metrics = run.callback_metrics
    assert torch.isfinite(metrics["loss"])
    for name in ("val_sdr", "val_si_sdr", "val_sdri", "val_si_sdri"):
        assert torch.isfinite(metrics[name]), name
    if objective == "weak":
        assert {"loss_cnt", "loss_crl", "loss_url"} <= set(metrics)


def test_bf16_autocast_and_gradient_clipping():
    system = make_system("weak")
    run = trainer(fast_dev_run=True, precision="bf16-mixed", gradient_clip_val=0.01)
    seen = []
    real = system.model.forward_masks

    def spy(*args, **kwargs):
        seen.append(torch.is_autocast_enabled("cpu"))
        return real(*args, **kwargs)

    system.model.forward_masks = spy
    run.fit(system)
    assert seen and all(seen)
    assert torch.isfinite(run.callback_metrics["loss"])


def test_step_leaves_the_encoder_bit_identical_and_changes_the_separator(tmp_path):
    system = make_system("weak")
    encoder_before = {k: v.clone() for k, v in system.encoder.state_dict().items()}
    model_before = {k: v.clone() for k, v in system.model.state_dict().items()}
    trainer(max_steps=2, limit_val_batches=0).fit(system)
    for key, value in system.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), key
    changed = [
        k for k, v in system.model.state_dict().items() if not torch.equal(v, model_before[k])
    ]
    assert len(changed) > len(model_before) // 2
    in_optimizer = {id(p) for g in system.optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in in_optimizer for p in system.encoder.parameters())
    assert all(not p.requires_grad for p in system.encoder.parameters())
    assert system.encoder.training is False


def test_separator_file_has_no_encoder_and_loads_weights_only(tmp_path):
    system = make_system("mixit")
    path = system.save_separator(tmp_path / "best_model.pth")
    package = torch.load(path, weights_only=True)
    assert not any(k.startswith("encoder") for k in package["state_dict"])
    assert set(package["state_dict"]) == set(system.model.state_dict())
    assert package["state_dict"]["learned_queries.embed"].shape == (4, 16)
    assert (
        package["model_args"]["n_learned_queries"] == 4 and "unconditioned_queries" not in package
    )
    assert package["infos"]["objective"] == "mixit"
    model = TextCondUNet.from_pretrained(path)
    assert torch.equal(model.state_dict()["head.scale"], system.model.state_dict()["head.scale"])
    with pytest.raises(FileExistsError, match="best_model.pth"):
        system.save_separator(path)
    system.save_separator(path, force=True)


def test_optimizer_must_hold_the_separator_and_never_the_encoder():
    system = make_system("weak")
    system.optimizer = torch.optim.Adam(
        list(system.model.parameters()) + list(system.encoder.parameters())
    )
    with pytest.raises(ValueError, match="frozen encoder"):
        system.configure_optimizers()
    system = make_system("mixit")
    system.optimizer = torch.optim.Adam(
        p for n, p in system.model.named_parameters() if not n.startswith("learned_queries")
    )  # misses MixIT's queries
    with pytest.raises(ValueError, match="learned_queries"):
        system.configure_optimizers()
    system = make_system(
        "weak", config={"optim": {"lr": 3e-4}, "scheduler": {"step_size": 15, "gamma": 0.1}}
    )
    optimizers, schedulers = system.configure_optimizers()
    assert optimizers[0].param_groups[0]["lr"] == 3e-4
    assert isinstance(schedulers[0]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert schedulers[0]["interval"] == "epoch"
    system = make_system("weak", config={"scheduler": {"step_size": 5, "interval": "step"}})
    assert system.configure_optimizers()[1][0]["interval"] == "step"
    system = make_system("weak", config={"scheduler": {"step_size": 5, "interval": "hour"}})
    with pytest.raises(ValueError, match="interval must be"):
        system.configure_optimizers()


def test_cosine_schedule_decays_to_zero_over_the_budget():
    system = make_system("weak", config={"optim": {"lr": 1e-3}, "scheduler": {"name": "cosine"}})
    with pytest.raises(ValueError, match="needs training.max_steps"):
        system.configure_optimizers()  # not attached to a trainer: no budget known
    system = make_system("weak", config={"optim": {"lr": 1e-3}, "scheduler": {"name": "cosine"}})
    system.trainer = pl.Trainer(max_steps=10, logger=False, enable_progress_bar=False)
    optimizers, schedulers = system.configure_optimizers()
    sched = schedulers[0]["scheduler"]
    assert schedulers[0]["interval"] == "step" and sched.T_max == 10
    lrs = []
    for _ in range(10):
        lrs.append(optimizers[0].param_groups[0]["lr"])
        optimizers[0].step()
        sched.step()
    assert lrs[0] == 1e-3 and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    bad = make_system("weak", config={"scheduler": {"name": "linear"}})
    with pytest.raises(ValueError, match="'step' or 'cosine'"):
        bad.configure_optimizers()


def test_checkpoints_keep_the_best_val_sdr_and_the_last_state_without_encoder(tmp_path):
    system = make_system("weak")
    best, last = checkpoint_callbacks(tmp_path / "checkpoints")
    trainer(max_epochs=3, enable_checkpointing=True, callbacks=[best, last]).fit(system)
    assert best.monitor == "val_sdr" and best.mode == "max"
    assert "val_sdr" in Path(best.best_model_path).name
    scores = [float(p.stem.split("val_sdr=")[1]) for p in (tmp_path / "checkpoints").glob("ep*")]
    assert len(scores) == 1 and scores[0] == pytest.approx(float(best.best_model_score), abs=0.01)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 6  # the latest state, whatever val_sdr did
    assert not any("encoder" in k for k in ckpt["state_dict"])


@pytest.mark.parametrize("every", [None, 3])
def test_last_checkpoint_at_every_epoch_end_validation_and_n_steps(tmp_path, every):
    """Validations every 3 steps (not once per epoch) once kept Lightning from writing
    last.ckpt at epoch ends: a kill before the first validation lost every step."""
    system = make_system("weak")  # 2 batches per epoch
    best, last = checkpoint_callbacks(tmp_path, every_n_train_steps=every)
    saved = []
    write = last._save_checkpoint
    last._save_checkpoint = lambda run, path: (saved.append(run.global_step), write(run, path))
    run = trainer(
        max_steps=7, val_check_interval=3, check_val_every_n_epoch=None, callbacks=[best, last]
    )
    run.fit(system)
    # after the last batches of epochs (2, 4, 6) and of the budget (7), after validations
    # (3, 6: again, since a resume from the file before a validation would skip it), and
    # every 3 steps (3, 6)
    assert saved == ([2, 3, 4, 6, 6, 7] if every is None else [2, 3, 3, 4, 6, 6, 7])
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == 7


# stop at the end of epoch 1 or in the middle of epoch 2; last.ckpt written every step, or
# only at epoch ends and where the budget ended
@pytest.mark.parametrize("stop_at, every", [(2, 1), (3, 1), (2, None), (3, None)])
def test_resume_continues_at_the_same_step_and_matches_an_uninterrupted_run(
    tmp_path, stop_at, every
):
    seen = {}

    def record(system, name):
        real = system.common_step

        def spy(batch, batch_nb, train=True):
            seen.setdefault(name, []).append((batch["phrases"], batch["mix"].sum().item()))
            return real(batch, batch_nb, train)

        system.common_step = spy

    straight = make_system("weak", shuffle=True)
    record(straight, "straight")
    trainer(max_steps=5, limit_val_batches=0).fit(straight)

    first = make_system("weak", shuffle=True)
    record(first, "resumed")
    callbacks = checkpoint_callbacks(tmp_path, every_n_train_steps=every)
    trainer(
        max_steps=stop_at, limit_val_batches=0, enable_checkpointing=True, callbacks=callbacks
    ).fit(first)
    resumed = make_system("weak", shuffle=True)
    record(resumed, "resumed")
    run = trainer(max_steps=5, limit_val_batches=0, callbacks=checkpoint_callbacks(tmp_path))
    run.fit(resumed, ckpt_path=tmp_path / "last.ckpt", weights_only=True)  # plain values only
    assert run.global_step == 5
    assert seen["resumed"] == seen["straight"]  # the same batches, none repeated or skipped
    # The same weights up to rounding: a fresh text cache encodes phrases in other batch
    # compositions (float noise ~1e-7, grown by Adam's normalised steps to ~1e-4 over 5
    # steps of 4 mixtures of mixtures), while each step of lr 1e-3 moves weights by ~1e-3.
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=1e-3, atol=3e-4)


def test_datasets_get_a_new_epoch_each_epoch():
    system = make_system("weak")
    trainer(max_epochs=3, limit_val_batches=0).fit(system)
    assert system.train_loader.dataset.epoch == 2
    assert system.train_loader.dataset.dataset is not None


def test_bad_arguments():
    train, val, texts = loaders("weak")
    with pytest.raises(TypeError, match="encoder must be a BimodalEncoder"):
        WeakSupSystem(tiny_unet(), torch.nn.Linear(2, 2), "weak", train)
    with pytest.raises(ValueError, match="objective must be one of"):
        WeakSupSystem(tiny_unet(), tiny_encoder(texts), "no_such_objective", train)


DDP_SCRIPT = textwrap.dedent("""
    import json, os, sys, warnings
    warnings.filterwarnings("ignore")
    sys.path.insert(0, {root!r})
    import pytorch_lightning as pl, torch
    from torch.utils.data import DataLoader
    from asteroid_wsas.data import MixtureGroups, collate_groups, collate_test_items
    from asteroid_wsas.engine import WeakSupSystem
    from tests.helpers import test_items, tiny_encoder, tiny_unet, weak_items

    weak = weak_items(8)
    texts = [t for i in range(8) for t in [weak[i]["caption"], *weak[i]["phrases"]]]
    texts += [q for it in test_items(4) for q in it["queries"]]
    torch.manual_seed(0)
    system = WeakSupSystem(
        tiny_unet(), tiny_encoder(texts), "weak",
        DataLoader(MixtureGroups(weak), batch_size=2, collate_fn=collate_groups),
        DataLoader(test_items(4), batch_size=2, collate_fn=collate_test_items),
        config={{"objective_args": {{"gather": True, "symmetric": True}}}},
    )
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=2,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(system)
    flat = torch.cat([p.detach().flatten() for p in system.model.parameters()])
    with open(os.path.join({out!r}, f"rank{{trainer.global_rank}}.json"), "w") as f:
        json.dump({{"sum": flat.sum().item(), "step": trainer.global_step,
                   "val_sdr": float(trainer.callback_metrics["val_sdr"]),
                   "world": trainer.world_size}}, f)
    """)


def test_ddp_on_two_cpu_processes_with_gathered_negatives(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(root=str(ROOT), out=str(tmp_path)))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["step"] == 2 for r in ranks)
    assert ranks[0]["sum"] == pytest.approx(ranks[1]["sum"], abs=1e-6)  # synced weights
    assert ranks[0]["val_sdr"] == pytest.approx(ranks[1]["val_sdr"])  # synced metric
