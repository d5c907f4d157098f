"""How much each part of a loss pulls on the weights: the gradient of each weighted part,
its norm, and the cosine between parts. A term whose gradient is small against the others
hardly trains the model, whatever its value; two orthogonal parts pull different ways.
"""

from typing import Dict, Mapping, Sequence, Tuple

import torch

__all__ = ["gradient_parts", "weak_loss_parts"]


def gradient_parts(
    parts: Mapping[str, torch.Tensor], params: Sequence[torch.Tensor]
) -> Tuple[Dict[str, float], Dict[Tuple[str, str], float]]:
    """The gradient norm of each loss part with respect to ``params``, and the cosine
    between each pair of parts' gradients.

    Args:
        parts: Name -> a scalar loss part (weighted as it enters the loss), all from one
            forward pass (the graph is kept until the last part).
        params: The parameters that training updates.

    Returns:
        tuple: ``({name: norm}, {(name, other): cosine})``; a part that does not reach a
        parameter counts zero there, and a zero gradient has cosine 0 with any other.

    Examples:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> norms, cos = gradient_parts({"a": 3 * w[0], "b": 4 * w[1]}, [w])
        >>> norms, cos
        ({'a': 3.0, 'b': 4.0}, {('a', 'b'): 0.0})
    """
    params = list(params)
    names, grads = list(parts), []
    for k, name in enumerate(names):
        got = torch.autograd.grad(
            parts[name], params, retain_graph=k < len(names) - 1, allow_unused=True
        )
        grads.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).flatten()
                    for g, p in zip(got, params)
                ]
            ).double()
        )
    norms = {name: float(g.norm()) for name, g in zip(names, grads)}
    cosines = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = grads[i], grads[j]
            scale = float(a.norm() * b.norm())
            cosines[(names[i], names[j])] = float(a @ b) / scale if scale > 0 else 0.0
    return norms, cosines


def weak_loss_parts(objective, terms: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The weak loss (:class:`~asteroid_wsas.losses.WeakObjective`'s terms) in its two
    parts: the teacher's ``cnt_weight * L_CNT`` and the reconstruction's ``crl_weight *
    L_CRL + url_weight * L_URL``; they sum to ``terms["loss"]``.

    Args:
        objective: The weak objective (its weights).
        terms: What it returned for a batch.

    Returns:
        dict: ``{"teacher": ..., "reconstruction": ...}``, scalar tensors.
    """
    return {
        "teacher": terms["loss"]
        - objective.crl_weight * terms["crl"]
        - objective.url_weight * terms["url"],
        "reconstruction": objective.crl_weight * terms["crl"] + objective.url_weight * terms["url"],
    }
