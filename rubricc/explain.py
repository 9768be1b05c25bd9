"""`rubricc explain`: one row's score, broken down the way pytest explains an assertion.

    score 0 = correct
     +  where has_answer = 1  <- final != none
     +  where correct = 0     <- math_equal(final, answer)
     +    where final = "41"  <- final_answer(strip_think(response))

A judge item shows what the judge said, and a `judge each` item each criterion of the row:

     +  where plain = 0.75  <- "Uses language a layperson understands."
     +    verdict rating 4 of 5
     +  where criteria = 0.6  <- rubric
     +    criterion 'Cites a source.' (weight 2): P(yes) = 0.4
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc import values as V
from rubricc.checked_rubric import Checked, choose_route, unrouted_items
from rubricc.interpreter import RowEval
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
    if info.kind in ("judge", "relative") and item.status == V.OK:
        lines.append(f" +    verdict {_verdict(item.value, info.scale)}")
    for c in item.criteria:
        verdict = _verdict(c.value, info.scale) if c.status == V.OK else f"{c.status}: {c.message}"
        lines.append(f" +    criterion {c.text!r} (weight {c.weight:g}): {verdict}")
    if item.status not in (V.SKIPPED, V.NA):
        for let in _lets_used(checked, expr):
            value = evaluator.eval(n.Name(let, expr.span))
            lines.append(f" +    where {let} = {_show(value)}  <- {text(checked.scope.lets[let].value)}")
    return lines


def _verdict(value: float, scale: int | None) -> str:
    """What the judge said: P(yes), or for `scale N` the expected rating (the item's value is
    (rating - 1) / (N - 1))."""
    if scale is None:
        return f"P(yes) = {_num(value)}"
    return f"rating {_num(1 + value * (scale - 1))} of {scale}"


def _explain_route(checked: Checked, row: dict, result: RowResult, sources, services) -> str:
    key = RowEval(checked, row, services).eval(checked.route_key)
    case = choose_route(checked, key)
    if isinstance(case, V.Failed):
        return f"score could not be computed ({result.status}): {result.message}"
    sub = checked.routes[case]
    inner = RowResult(unrouted_items(case, sub, result.items), result.total, result.status,
                      result.message)
    head = f"routed by {_text_of(sources)(checked.route_key)} = {_show(key)} to `{sub.name}`"
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
