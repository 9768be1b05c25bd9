"""`rubricc explain`: one row's score, broken down the way pytest explains an assertion.

    score 0 = correct
     +  where has_answer = 1  <- final != none
     +  where correct = 0     <- math_equal(final, answer)
     +    where final = "41"  <- final_answer(strip_think(response))
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.checked import Checked
from rubricc.interpreter import RowEval
from rubricc.runtime import values as V
from rubricc.runtime.result import RowResult
from rubricc.runtime.services import Services
from rubricc.source import Source


def explain_row(checked: Checked, row: dict, result: RowResult, sources: dict[str, Source],
                services: Services) -> str:
    if checked.routes:
        return _explain_route(checked, row, result, sources, services)
    text = _text_of(sources)
    lines = [_headline(checked, result, text)]
    evaluator = RowEval(checked, row, services)
    for info in checked.items:
        item = result.items.get(info.name)
        if item is not None:
            lines += _item_lines(checked, info, item, evaluator, text)
    return "\n".join(lines)


def _headline(checked: Checked, result: RowResult, text) -> str:
    if result.status == "gated":
        return f"score {_num(result.total)}: a gate failed, so the score is its fail value"
    if result.total is None:
        return f"score could not be computed ({result.status}): {result.message}"
    score_text = text(checked.score) if checked.score is not None else "weighted_mean(items)"
    return f"score {_num(result.total)} = {score_text}"


def _item_lines(checked: Checked, info, item, evaluator: RowEval, text) -> list[str]:
    expr = _item_expr(info.node)
    shown = _num(item.value) if item.status == V.OK else item.status
    lines = [f" +  where {info.name} = {shown}  <- {text(expr)}"]
    if item.message:
        lines.append(f" +    because {item.message}")
    for c in item.criteria:
        verdict = _num(c.value) if c.status == V.OK else c.status
        lines.append(f" +    criterion (weight {c.weight:g}) = {verdict}  <- {c.text!r}")
    if item.status not in (V.SKIPPED, V.NA):
        for let in _lets_used(checked, expr):
            value = evaluator.eval(n.Name(let, expr.span))
            lines.append(f" +    where {let} = {_show(value)}  <- {text(checked.scope.lets[let].value)}")
    return lines


def _explain_route(checked: Checked, row: dict, result: RowResult, sources, services) -> str:
    key = RowEval(checked, row, services).eval(checked.route_key)
    chosen = key if key in checked.routes else None
    if chosen not in checked.routes:
        return f"score could not be computed ({result.status}): {result.message}"
    prefix = f"{chosen or 'default'}."
    inner = RowResult({k[len(prefix):]: v for k, v in result.items.items() if k.startswith(prefix)},
                      result.total, result.status, result.message)
    sub = checked.routes[chosen]
    head = f"routed by {_text_of(sources)(checked.route_key)} = {key!r} to `{sub.name}`"
    return head + "\n" + explain_row(sub, row, inner, sources, services)


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
