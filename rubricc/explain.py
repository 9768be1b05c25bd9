"""`rubricc explain`: one row's score, broken down the way pytest explains an assertion.

    score 0 = correct
     +  where has_answer = 1  <- final != none
     +  where correct = 0     <- math_equal(final, answer)
     +    where final = "41"  <- final_answer(strip_think(response))
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.interpreter import RowEval
from rubricc.runtime import values as V
from rubricc.runtime.result import RowResult
from rubricc.runtime.services import Services
from rubricc.source import Source
from rubricc.typecheck import Checked


def explain_row(checked: Checked, row: dict, result: RowResult, sources: dict[str, Source],
                services: Services) -> str:
    text = _text_of(sources)
    score_text = text(checked.score) if checked.score is not None else "weighted_mean(items)"
    lines = [f"score {_num(result.total)} = {score_text}" if result.total is not None
             else f"score could not be computed ({result.status}): {result.message}"]
    if result.status == "gated":
        lines[0] = f"score {_num(result.total)}: a gate failed, so the score is its fail value"
    evaluator = RowEval(checked, row, services)
    for info in checked.items:
        item = result.items.get(info.name)
        if item is None:
            continue
        expr = _item_expr(info.node)
        shown = _num(item.value) if item.status == V.OK else item.status
        lines.append(f" +  where {info.name} = {shown}  <- {text(expr)}")
        if item.message:
            lines.append(f" +    because {item.message}")
        if item.status in (V.SKIPPED, V.NA):
            continue
        for let in _lets_used(checked, expr):
            value = evaluator.eval(n.Name(let, expr.span))
            lines.append(f" +    where {let} = {_show(value)}  <- {text(checked.scope.lets[let].value)}")
    return "\n".join(lines)


ITEM_EXPR = {n.Gate: "cond", n.Check: "expr", n.Judge: "criterion", n.JudgeEach: "source"}


def _item_expr(node):
    return getattr(node, ITEM_EXPR[type(node)])


def _lets_used(checked: Checked, expr) -> list[str]:
    found: list[str] = []

    def walk(node):
        if isinstance(node, n.Name) and node.id in checked.scope.lets and node.id not in found:
            found.append(node.id)
            walk(checked.scope.lets[node.id].value)
        elif isinstance(node, n.Node):
            for value in vars(node).values():
                for child in value if isinstance(value, tuple) else (value,):
                    walk(child[1] if isinstance(child, tuple) else child)

    walk(expr)
    return found


def _text_of(sources):
    def text(node) -> str:
        source = sources.get(node.span.file)
        return source.text[node.span.start:node.span.end] if source else "?"
    return text


def _num(x) -> str:
    return f"{x:.4g}"


def _show(value) -> str:
    if isinstance(value, V.Failed):
        return f"<{value.status}: {value.message}>"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return repr(value)
