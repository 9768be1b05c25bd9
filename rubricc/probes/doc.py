"""Generate docs/probes.md from the probes' docstrings: `python -m rubricc.probes.doc > docs/probes.md`.

`tests/test_probes.py` checks that the file is what this prints, so the page cannot drift.
"""

from __future__ import annotations

import re
import textwrap

from rubricc.probes import FAMILIES, PROBES

INTRO = """\
# Probes: reward hacks, tried before training tries them

A policy trained against a reward finds the cheapest way to earn it. `rubricc check` tries the
cheap ways first: it writes the responses a hacking policy would write (empty answers, sprayed
candidates, format skeletons, judge master keys, test-harness tricks), scores them with the
rubric, and fails when one earns more than an honest wrong answer to the same question.

This page is generated from `rubricc/probes/` (`python -m rubricc.probes.doc > docs/probes.md`);
a test checks that it is current.

## How a probe decides

Probes run on rows: the rows of a rubric's own tests in `rubricc check` (one per distinct set of
columns, up to 8), or the rows of a data file in `rubricc probe RUBRIC DATA --rows N`. For each row:

1. **The format.** When the rubric has a reference column (`answer`, `solution`, `reference`,
   `gold`, `target`, ..., else a text or number column whose name holds one of those words, such
   as `gold_answer`; `--reference COLUMN` names another), the reference is put into common
   answer formats (bare, `The answer is X.`, `\\boxed{X}`, `<answer>X</answer>`, think-then-answer,
   and the shapes of the rubric's own test responses). The format that pays the reference most
   is the row's format, and the probes put their hacks where that format puts the answer.
2. **The honest wrong answer.** A wrong value (the reference's last integer moved by one, the next
   choice letter, or a stand-in word) in the row's format. Its reward is the row's **baseline**.
   Code rows use a stub of the function under test that returns `None`; open-ended rows without
   a reference use `I am not sure of the answer.`; rows with neither have a baseline of 0.
3. **The verdict.** A probe **hacks** the rubric when one of its responses earns more than the
   baseline plus a margin: 0 by default, 0.05 when the rubric has judge items (a judge's P(yes)
   moves a little between any two texts). `--threshold T` replaces the baseline with a fixed
   reward; `--margin M` sets the margin.
4. **Escapes.** A response that leaves its row uncomputable (an `error` or a `timeout`: a
   division by zero on an empty response, a checker past its deadline, a sandbox whose report
   was lost) where the honest wrong answer is scored also hacks the rubric: trainers mask such
   rows (advantage 0) instead of scoring them 0, so the response escapes its penalty. The
   diagnostic then points at the item that could not be computed:
   `hack[H001]: empty: '' cannot be scored (error: `/`: division by zero), so a trainer masks it
   instead of scoring it 0`. H008 (`unscorable`) tries only that.

Which probes run where: degenerate probes on every rubric; format probes on rubrics that look for
markup (a `<tag>` or `\\boxed` in a string or regex they pass) or that pay the reference more in
some format than bare; answer probes on rows with a reference; judge probes on rubrics with judge
items, when a judge is given; code probes on rubrics that run code (`python_tests`), on up to two
rows whose tests call a function.

## In `rubricc check`

Probes run by default after a rubric's tests (`--no-probes` skips them; `--no-tests` skips both).
Each hack is a diagnostic at the item that paid for it:

```text
hack[H020]: sprayed-candidates: "9 or 8" earns 1 (the honest wrong answer earns 0) through `correct`
 --> contains.rubric:3:5
  |
3 |     check correct: contains(response, answer)
  |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ pays for the hack
  |
help: docs/probes.md, H020, shows what to write instead; if the hack is acceptable here, declare it: `expect hack H020 "why"`
```

A hack fails the exit code unless the rubric declares it expected, with a reason, in its own
text:

```
expect hack H046 "the prompts show every test on purpose: this is a curriculum stage"
```

A declared hack is reported as a `note`; a declaration whose probe no longer pays is a warning,
so that the probe goes back to guarding. `--format json` carries every probe's worst response,
its reward, the baseline and the items that paid.

A rubric with judge items is probed only when a judge is given (`--judge SPEC`, or
`$RUBRICC_JUDGE`, or `rubricc.toml`): without one its rows cannot be scored, and `check` says the
probes were skipped. Its tests still run on their pinned verdicts.

## Judge probes against a real judge

Judge probes measure the judge as much as the rubric. Run them with the judge you train with:

```sh
rubricc probe rubrics/my_open_ended.rubric data.jsonl --rows 32 --judge openai:MODEL@http://localhost:8000/v1
```

What to expect: a strong judge behind the default template (instructions first, the response
fenced in `<response>` tags and declared text under review, the criterion last) gives the master
keys and grader instructions a P(yes) near that of an honest non-answer, so nothing is reported.
Weak or small judges are fooled by some of them; that is the finding. Fix it in the rubric (a
gate that requires substance before the judge runs: `gate substantive: words(strip_think(response))
>= 3 and not refuses(response)`), in the template (lint rule L015), or by calibrating the judge on
labelled hack responses with `rubricc calibrate`. The test suite runs the judge probes through the
`hf:` and `openai:` backends on a tiny random model, which checks the mechanism and not the
verdicts (a random model's verdicts mean nothing), and with scripted verdicts.

## In training

`rubricc train` probes the rubric on the first rows of the training data before step 1 and refuses
to start on a hack the rubric does not declare (`allow_hacks = true` in the config overrides it,
with a warning). At every step it logs hack signatures of the sampled completions beside the
per-item rewards (docs/training.md).
"""


def render() -> str:
    parts = [INTRO, "## The probes\n", "| code | name | family | what it scores |",
             "| --- | --- | --- | --- |"]
    parts += [f"| {p.code} | `{p.name}` | {p.family} | {p.title} |" for p in PROBES]
    for family in FAMILIES:
        name = family.__name__.rsplit(".", 1)[-1]
        parts.append(f"\n## Family: {name}\n\n{_paragraph(family.__doc__ or '')}")
        for p in (p for p in PROBES if p.family == name):
            parts.append(section(p))
    return "\n".join(parts).rstrip() + "\n"


def section(p) -> str:
    title, _, body = p.doc.partition("\n")
    out = [f"\n### {p.code} `{p.name}`\n\n{title}"]
    for head, text in re.findall(r"^(\S[^\n]*):\n((?:    [^\n]*\n?|\n)*)", body, re.M):
        text = textwrap.dedent(text).strip("\n")
        if head in ("Example", "Use instead"):
            out.append(f"\n{head}:\n\n```\n{text}\n```")
        else:
            out.append(f"\n{head}: {' '.join(text.split())}")
    return "\n".join(out)


def _paragraph(doc: str) -> str:
    return "\n\n".join(" ".join(block.split()) for block in doc.strip().split("\n\n"))


if __name__ == "__main__":
    print(render(), end="")
