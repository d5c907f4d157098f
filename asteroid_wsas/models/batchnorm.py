"""Per-query BatchNorm: the statistics of the authors' one network call per query, taken in
one batched call (``training.bn_stats``, ``training.replica_batch``)."""

from typing import Optional, Tuple

import torch
from torch import nn

__all__ = ["BN_STATS", "QueryBatchNorm2d"]

BN_STATS = ("pooled", "per_query")


class QueryBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that can take its training statistics per query.

    The separator answers the K queries of B mixtures in one call, on ``(B K, C, H, W)``
    maps (query index fastest). Plain BatchNorm pools its statistics over all B K rows.
    The authors' code calls the network once per query, so each query's rows are
    normalised with their own statistics over the B mixtures, and the running averages
    take K updates per step, one per call. :attr:`query_stats` (set by
    :class:`~asteroid_wsas.TextCondUNet` for one call when its ``bn_stats`` is
    ``"per_query"``) reproduces that in the one batched call:

    - ``("groups", k, r)``: the rows are k queries of B mixtures; each query's slice is
      normalised by its own mean and variance over (B, H, W), and the running averages take
      k momentum updates in query order;
    - ``("repeat", k, r)``: the rows are B mixtures shared by k queries (the text-free
      levels, which one call per query would compute k times on the same input): pooled
      statistics, and k momentum updates of the running averages with them.

    ``r`` (None: all B) is the batch of one of the authors' DDP processes (2 mixtures of
    mixtures per GPU, no synchronised BatchNorm): the statistics are then taken per chunk of
    r consecutive mixtures, and the running averages follow the first chunk's, as the
    checkpoint of their rank 0 holds them.

    Outside training, or with :attr:`query_stats` None, it is ``nn.BatchNorm2d``; its
    state dict is the same, so files saved with either load into the other.
    """

    query_stats: Optional[Tuple[str, int, Optional[int]]] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = self.query_stats
        if stats is None or not self.training or not self.track_running_stats:
            return super().forward(x)
        if self.momentum is None:
            raise ValueError("per-query BatchNorm needs a momentum (not a cumulative average)")
        kind, k, replica = stats
        groups = k if kind == "groups" else 1
        n_batch = x.shape[0] // groups
        replica = replica or n_batch
        if kind not in ("groups", "repeat") or x.shape[0] % groups or n_batch % replica:
            raise ValueError(
                f"query_stats {stats!r} do not fit a batch of {x.shape[0]} rows (the batch "
                "must be a multiple of training.replica_batch)"
            )
        weight = self.weight if self.affine else torch.ones_like(self.running_mean)
        bias = self.bias if self.affine else torch.zeros_like(self.running_mean)
        out, mean, var = _GroupedBatchNorm.apply(x, weight, bias, groups, replica, self.eps)
        # the first chunk's statistics: the running averages of the authors' rank 0
        count = replica * x.shape[2] * x.shape[3]
        self._update_running(mean[0], var[0], count, k if kind == "repeat" else 1)
        return out

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, n: int, repeat: int):
        """The running averages after ``repeat`` momentum updates with each row of
        ``mean`` / ``var`` (biased, over ``n`` values) in turn, as sequential calls do."""
        m = float(self.momentum)
        steps = mean.shape[0] * repeat
        # update j of the sequence (0 first) is kept with weight m (1 - m)^(steps - 1 - j)
        order = torch.arange(steps, dtype=torch.float64, device=mean.device)
        weights = (m * (1 - m) ** (steps - 1 - order)).view(mean.shape[0], repeat).sum(1)
        weights = weights.to(mean.dtype)[:, None]
        unbiased = var * (n / max(n - 1, 1))
        decay = (1 - m) ** steps
        self.running_mean.mul_(decay).add_((weights * mean).sum(0).to(self.running_mean.dtype))
        self.running_var.mul_(decay).add_((weights * unbiased).sum(0).to(self.running_var.dtype))
        self.num_batches_tracked.add_(steps)


def _grouped(x: torch.Tensor, k: int, replica: int, layout: Optional[torch.memory_format] = None):
    """A view of ``(B k, C, H, W)`` rows as groups in memory order: ``(B / r, r, k, H W, C)``
    for a channels-last map, ``(B / r, r, k, C, H W)`` otherwise (a copy when ``x`` is in
    neither layout, or not in ``layout`` when given).

    Returns:
        tuple: the view, the dims to reduce, the shape that (B / r, k, C) statistics take to
        broadcast over it, and its layout.
    """
    n_rows, channels, height, width = x.shape
    chunks = n_rows // (k * replica)
    if layout is None:
        nhwc = channels > 1 and x.is_contiguous(memory_format=torch.channels_last)
        layout = torch.channels_last if nhwc else torch.contiguous_format
    x = x.contiguous(memory_format=layout)
    if layout == torch.channels_last:
        view = x.permute(0, 2, 3, 1).reshape(chunks, replica, k, height * width, channels)
        return view, (1, 3), (chunks, 1, k, 1, channels), layout
    view = x.reshape(chunks, replica, k, channels, height * width)
    return view, (1, 4), (chunks, 1, k, channels, 1), layout


class _GroupedBatchNorm(torch.autograd.Function):
    """Training BatchNorm with statistics per group of rows: query ``q`` of chunk ``c`` is
    the rows ``q::k`` of mixtures ``c r .. (c + 1) r``; on the map's memory as it is (no
    copies of a channels-last map), sums accumulated in fp32 whatever the map's dtype;
    the backward is BatchNorm's, per group. Returns the output and the groups' (mean,
    biased variance), :math:`(B / r, k, C)` fp32."""

    @staticmethod
    def forward(ctx, x, weight, bias, k, replica, eps):
        view, dims, shape, layout = _grouped(x, k, replica)
        count = replica * x.shape[2] * x.shape[3]
        mean = view.mean(dims, dtype=torch.float32)
        # E[x^2] - E[x]^2 in fp32: exact enough unless |mean| / std passes ~300
        square = torch.linalg.vector_norm(view, 2, dims, dtype=torch.float32).square()
        var = (square / count - mean.square()).clamp_min(0)
        invstd = torch.rsqrt(var + eps)
        scale = (invstd * weight.float()).reshape(shape)
        shift = (bias.float() - mean * invstd * weight.float()).reshape(shape)
        # written into a map of the view's layout: a view as output would break in-place use
        out = torch.empty_like(x, memory_format=layout)
        target = _grouped(out, k, replica, layout)[0]
        torch.addcmul(shift.to(x.dtype), view, scale.to(x.dtype), out=target)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.k, ctx.replica, ctx.layout = k, replica, layout
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, grad, _mean_grad, _var_grad):
        x, weight, mean, invstd = ctx.saved_tensors
        k, replica = ctx.k, ctx.replica
        view, dims, shape, layout = _grouped(x, k, replica, ctx.layout)
        gview = _grouped(grad.to(x.dtype), k, replica, layout)[0]
        count = replica * x.shape[2] * x.shape[3]
        sum_g = gview.sum(dims, dtype=torch.float32)
        sum_gx = (gview * view).sum(dims, dtype=torch.float32)
        sum_gxhat = (sum_gx - mean * sum_g) * invstd  # sum of g * (x - mean) / std
        w = weight.float()
        grad_x = None
        if ctx.needs_input_grad[0]:
            # dx = w / std * (g - mean(g) - xhat * mean(g * xhat)) = g a + x b + c
            a = w * invstd
            b = -w * invstd.square() * sum_gxhat / count
            c = -a * sum_g / count - b * mean
            grad_x = torch.empty_like(x, memory_format=layout)
            grouped = _grouped(grad_x, k, replica, layout)[0]
            torch.addcmul(
                c.reshape(shape).to(x.dtype), view, b.reshape(shape).to(x.dtype), out=grouped
            )
            grouped.addcmul_(gview, a.reshape(shape).to(x.dtype))
        grad_w = sum_gxhat.sum((0, 1)).to(weight.dtype) if ctx.needs_input_grad[1] else None
        grad_b = sum_g.sum((0, 1)).to(weight.dtype) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None, None, None
