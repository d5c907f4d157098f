"""WeakSupSystem: Asteroid's Lightning ``System`` for the weak objective and its baselines."""

import os
from typing import Any, Dict, Iterator, List, Optional, Union

import torch
from asteroid.engine import System
from asteroid.engine.optimizers import make_optimizer
from torch import nn

from ..losses.objectives import Objective, make_objective
from ..metrics import separation_metrics, silent_sources
from ..separation.core import separate_batch
from ..utils import refuse_overwrite

__all__ = ["WeakSupSystem", "VAL_METRICS"]

# Logged on validation sets of test items (mixture, references, queries); val_sdr is monitored.
VAL_METRICS = ("sdr", "si_sdr", "sdri", "si_sdri")
DEFAULT_OPTIM = {"optimizer": "adam", "lr": 1e-4, "weight_decay": 1e-4}  # the authors'


class WeakSupSystem(System):
    """Trains a text-queried separator with a frozen bimodal encoder and a chosen objective.

    The objective (``weak``, ``mix_and_separate``, ``supervised``, ``semi``, ``mixit``; see
    :mod:`asteroid_wsas.losses.objectives`) turns a batch into named loss terms, all of
    which are logged (``loss``, ``loss_cnt``, ...). The encoder is frozen on entry and kept
    outside the module tree: it is not wrapped by DDP, not in the optimizer, not in
    Lightning checkpoints and not in the separator file; the system moves it to its own
    device when it is used.

    Validation accepts two kinds of batches:

    - test items (:func:`~asteroid_wsas.data.collate_test_items`: ``mixture``,
      ``references``, ``queries``): each query is separated and scored; ``val_sdr``,
      ``val_si_sdr``, ``val_sdri`` and ``val_si_sdri`` are logged (means over queries with
      non-silent references). ``val_sdr`` is what :func:`checkpoint_callbacks` monitors.
    - training-style batches: ``val_loss`` from the objective.

    Args:
        model: The separator (e.g. :class:`~asteroid_wsas.TextCondUNet`).
        encoder: A :class:`~asteroid_wsas.encoders.BimodalEncoder`, the frozen teacher and
            the source of the text queries.
        objective: An :class:`~asteroid_wsas.losses.Objective` or its name; a name is built
            with ``config["objective_args"]``.
        train_loader: Training loader (mixture-of-mixtures batches; for ``semi`` a
            ``CombinedLoader`` or dict of a ``clean`` and a ``weak`` loader).
        val_loader: Validation loader.
        optimizer: An optimizer over :meth:`trainable_parameters`, or None to build one from
            ``config["optim"]`` (Asteroid's ``make_optimizer``; default Adam, lr 1e-4,
            weight decay 1e-4 as the authors).
        scheduler: As Asteroid's ``System``; None with ``config["scheduler"] = {"step_size",
            "gamma"}`` gives the authors' step decay per epoch (``"interval": "step"``: per
            ``step_size`` optimizer steps); ``{"name": "cosine"}`` a cosine decay to zero
            over the trainer's ``max_steps``, stepped per step.
        config: The training config (saved in checkpoints as Asteroid does).

    Examples:
        A training run on generated data, with the small encoder::

            system = WeakSupSystem(model, encoder, "weak", train_loader, val_loader)
            trainer = pl.Trainer(max_steps=1000, precision="bf16-mixed",
                                 gradient_clip_val=5.0,
                                 callbacks=checkpoint_callbacks("exp/checkpoints"))
            trainer.fit(system)
            system.save_separator("exp/best_model.pth")
    """

    default_monitor = "val_sdr"

    def __init__(
        self,
        model: nn.Module,
        encoder: nn.Module,
        objective: Union[str, Objective] = "weak",
        train_loader=None,
        val_loader=None,
        optimizer: Optional[torch.optim.Optimizer] = None,
        scheduler=None,
        config: Optional[Dict[str, Any]] = None,
    ):
        config = {} if config is None else dict(config)
        if isinstance(objective, str):
            objective = make_objective(objective, model, **config.get("objective_args", {}))
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be an Objective or a name, got {type(objective)}")
        if not hasattr(encoder, "freeze"):
            raise TypeError(f"encoder must be a BimodalEncoder, got {type(encoder).__name__}")
        super().__init__(model, optimizer, objective, train_loader, val_loader, scheduler, config)
        # Outside the module tree: no DDP wrapping, no checkpoint entries, no optimizer.
        object.__setattr__(self, "_encoder", encoder.freeze())

    # ------------------------------------------------------------------ encoder
    @property
    def encoder(self) -> nn.Module:
        """The frozen encoder, on this system's device."""
        enc = self._encoder
        param = next(enc.parameters(), None)
        if param is not None and param.device != self.device:
            enc.to(self.device)
        return enc

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """The separator's parameters (MixIT's learned queries included) and any of the
        objective's own."""
        yield from self.model.parameters()
        yield from self.loss_func.parameters()

    # ------------------------------------------------------------------ steps
    def common_step(self, batch, batch_nb, train: bool = True) -> Dict[str, torch.Tensor]:
        """The objective's terms on this batch (``"loss"`` is the total)."""
        return self.loss_func(self.model, self.encoder, batch)

    def training_step(self, batch, batch_nb):
        terms = self.common_step(batch, batch_nb, train=True)
        self._log_terms(terms, "", batch, prog_bar=True)
        return terms["loss"]

    def validation_step(self, batch, batch_nb):
        if isinstance(batch, dict) and "references" in batch:
            self._validate_separation(batch)
        else:
            terms = self.common_step(batch, batch_nb, train=False)
            self._log_terms(terms, "val_", batch, prog_bar=True)

    def _validate_separation(self, batch: dict) -> None:
        mix, refs = batch["mixture"], batch["references"]
        selection = self.config.get("selection", "text")
        est = separate_batch(
            self.model, self.encoder, mix, batch["queries"], references=refs, selection=selection
        )
        scores = separation_metrics(mix, refs, est.float())
        keep = ~silent_sources(mix, refs)
        n_kept = int(keep.sum())
        if n_kept == 0:
            return
        for name in VAL_METRICS:
            value = scores[name][keep].mean().float()
            self.log(
                f"val_{name}",
                value,
                on_epoch=True,
                prog_bar=name == "sdr",
                batch_size=n_kept,
                sync_dist=True,
            )

    def _log_terms(self, terms, prefix: str, batch, prog_bar: bool) -> None:
        size = _batch_size(batch)
        train = prefix == ""
        for key, value in terms.items():
            name = f"{prefix}loss" if key == "loss" else f"{prefix}loss_{key}"
            self.log(
                name,
                value.detach(),
                on_step=train,
                on_epoch=not train,
                prog_bar=prog_bar and key == "loss",
                batch_size=size,
                sync_dist=not train,
            )

    # ------------------------------------------------------------------ hooks
    def on_train_epoch_start(self) -> None:
        """New random crops, gains and phrase choices each epoch (datasets with set_epoch)."""
        for dataset in _datasets(self.train_loader):
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(self.current_epoch)

    def on_validation_epoch_end(self) -> None:
        """Asteroid's ``hp_metric`` (the monitored value, for TensorBoard's hparams view),
        logged in the validation's own row. Asteroid's hook wrote a row of its own one step
        later, where a resumed run's first training row lands, and crashed without a
        logger (``logger=False``)."""
        metric = self.trainer.callback_metrics.get(self.default_monitor)
        if metric is not None and self.trainer.logger is not None:
            self.log("hp_metric", metric, on_epoch=True, sync_dist=True)

    def configure_optimizers(self):
        if self.optimizer is None:
            options = {**DEFAULT_OPTIM, **self.config.get("optim", {})}
            self.optimizer = make_optimizer(list(self.trainable_parameters()), **options)
        self._check_optimizer()
        if self.scheduler is None and self.config.get("scheduler"):
            options = dict(self.config["scheduler"])
            name = options.pop("name", "step")
            if name == "cosine":  # to zero at the end of the budget: curves that settle
                trainer = self._trainer  # None when not attached (no budget known)
                steps = trainer.max_steps if trainer is not None else -1
                if steps is None or steps <= 0:
                    raise ValueError("scheduler 'cosine' needs training.max_steps (the budget)")
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, steps, **options)
                self.scheduler = {"scheduler": sched, "interval": "step"}
            elif name == "step":
                interval = options.pop("interval", "epoch")  # "step": step_size counts steps
                if interval not in ("epoch", "step"):
                    raise ValueError(
                        f"scheduler interval must be 'epoch' or 'step', got {interval!r}"
                    )
                sched = torch.optim.lr_scheduler.StepLR(self.optimizer, **options)
                self.scheduler = {"scheduler": sched, "interval": interval}
            else:
                raise ValueError(f"scheduler name must be 'step' or 'cosine', got {name!r}")
        return super().configure_optimizers()

    def _check_optimizer(self) -> None:
        in_optimizer = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
        if any(id(p) in in_optimizer for p in self._encoder.parameters()):
            raise ValueError(
                "optimizer holds parameters of the frozen encoder; pass the "
                "system's trainable_parameters() instead"
            )
        names = dict(self.named_parameters())
        missing = [n for n, p in names.items() if p.requires_grad and id(p) not in in_optimizer]
        if missing:
            raise ValueError(
                f"optimizer misses trainable parameters {missing[:5]}"
                f"{' ...' if len(missing) > 5 else ''}; build it from trainable_parameters()"
            )

    # ------------------------------------------------------------------ saving
    def separator_package(self) -> Dict[str, Any]:
        """The separator file's content: ``model.serialize()`` (plain types and tensors,
        MixIT's learned queries included; loads with ``weights_only=True``)."""
        package = self.model.serialize()
        package.setdefault("infos", {})["objective"] = self.loss_func.name
        return package

    def save_separator(self, path: Union[str, os.PathLike], force: bool = False) -> str:
        """Write :meth:`separator_package` to ``path`` (never the encoder).

        Raises:
            FileExistsError: ``path`` exists and ``force`` is False.
        """
        path = os.fspath(path)
        refuse_overwrite(path, force=force)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(self.separator_package(), path)
        return path


def _batch_size(batch) -> int:
    if isinstance(batch, dict):
        for key in ("mix", "mixture"):
            if key in batch:
                return int(batch[key].shape[0])
        return sum(_batch_size(b) for b in batch.values() if isinstance(b, dict))
    return 1


def _datasets(loader) -> List[Any]:
    """The datasets behind a loader, a dict of loaders or a CombinedLoader."""
    if loader is None:
        return []
    if hasattr(loader, "flattened"):  # Lightning's CombinedLoader
        loader = loader.flattened
    if isinstance(loader, dict):
        loader = list(loader.values())
    if isinstance(loader, (list, tuple)):
        return [d for item in loader for d in _datasets(item)]
    dataset = getattr(loader, "dataset", None)
    return [] if dataset is None else [dataset]
