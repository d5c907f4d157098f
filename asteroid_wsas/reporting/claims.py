"""Claims of a comparison: arithmetic of row means with a goal, parsed safely.

``weak - mix_and_separate``, ``sdri: weak / mix_and_separate >= 1.5``: a metric (SDR by
default), an expression of row names, numbers and ``+ - * /``, and an optional goal. The
expression is read with :mod:`ast` (no ``eval``); :func:`asteroid_wsas.reporting.report.compare`
evaluates it over paired bootstrap resamples.
"""

import ast
import math
import operator
from typing import List, Mapping, Optional, Tuple

__all__ = ["Claim", "parse_claim"]

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_GOALS = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<"}


# ---------------------------------------------------------------------------------- claims
class Claim:
    """A statement about row means: ``[metric:] expression [>=|>|<=|< goal]``.

    Args:
        text: e.g. ``"weak - mix_and_separate"``, ``"weak / supervised >= 0.9"`` or
            ``"sdri: weak / mix_and_separate >= 1.5"``; names are rows of the comparison.

    Examples:
        >>> c = Claim("sdri: weak / mix_and_separate >= 1.5")
        >>> c.metric, c.names, c.goal, c({"weak": 3.0, "mix_and_separate": 1.5})
        ('sdri', ['weak', 'mix_and_separate'], ('>=', 1.5), 2.0)
    """

    def __init__(self, text: str):
        self.text = text.strip()
        metric, sep, rest = self.text.partition(":")
        self.metric, body = (metric.strip().lower(), rest) if sep else ("sdr", self.text)
        try:
            tree = ast.parse(body.strip(), mode="eval").body
        except SyntaxError as err:
            raise ValueError(f"claim {text!r}: not an expression of row names ({err.msg})")
        self.goal: Optional[Tuple[str, float]] = None
        if isinstance(tree, ast.Compare):
            if len(tree.ops) != 1 or type(tree.ops[0]) not in _GOALS:
                raise ValueError(f"claim {text!r}: one comparison (>=, >, <=, <) at most")
            goal = self._number(tree.comparators[0], text)
            self.goal = (_GOALS[type(tree.ops[0])], goal)
            tree = tree.left
        self.tree = tree
        self.names: List[str] = []
        self._check(tree, text)
        self.expression = ast.unparse(tree)

    @staticmethod
    def _number(node, text: str) -> float:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -Claim._number(node.operand, text)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        raise ValueError(f"claim {text!r}: the goal must be a number")

    def _check(self, node, text: str) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            self._check(node.left, text)
            self._check(node.right, text)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._check(node.operand, text)
        elif isinstance(node, ast.Name):
            if node.id not in self.names:
                self.names.append(node.id)
        elif not (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
            raise ValueError(f"claim {text!r}: only row names, numbers and + - * / ( )")

    def _eval(self, node, means: Mapping[str, float]) -> float:
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, means), self._eval(node.right, means)
            if isinstance(node.op, ast.Div) and right == 0:
                return math.nan
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return -self._eval(node.operand, means)
        if isinstance(node, ast.Name):
            return means[node.id]
        return float(node.value)

    def __call__(self, means: Mapping[str, float]) -> float:
        return self._eval(self.tree, means)

    def verdict(self, low: float, high: float) -> Optional[bool]:
        """Whether the whole interval ``[low, high]`` satisfies the goal (None: no goal)."""
        if self.goal is None:
            return None
        op, goal = self.goal
        if op in (">=", ">"):
            return bool(low >= goal if op == ">=" else low > goal)
        return bool(high <= goal if op == "<=" else high < goal)


def parse_claim(text: str) -> Claim:
    """See :class:`Claim`."""
    return Claim(text)


# ---------------------------------------------------------------------------------- reading
