"""`rubricc.ray_data.RubricScorer` under a local Ray: an actor pool's rewards are the scorer's."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rubricc.pipeline import compile

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'rubricc[ray]'")
pytest.importorskip("ray.data", reason="ray.data is not installed: pip install 'ray[data]'")

from rubricc.ray_data import RubricScorer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARITH = str(ROOT / "rubrics" / "arith" / "answer.rubric")


def rows(n: int) -> list[dict]:
    """Every third response one off; row 5 has null where the answer's text should be."""
    out = [{"answer": str(i), "response": f"<answer>{i + (i % 3 == 0)}</answer>"} for i in range(n)]
    out[5]["answer"] = None  # a wrong type: not scored, its reason in `error`
    return out


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_an_actor_pool_scores_as_the_scorer_does(local_ray):
    data = rows(40)
    ds = local_ray.data.from_items(data)
    scored = ds.map_batches(RubricScorer, fn_constructor_kwargs={"rubric_path": ARITH},
                            compute=local_ray.data.ActorPoolStrategy(size=2),  # 2 actors
                            batch_size=8).take_all()
    by_row = {(r["answer"], r["response"]): r for r in scored}
    assert len(scored) == 40
    scorer = compile(ARITH)
    good = [r for r in data if r["answer"] is not None]
    expected = scorer.score_rows(good)
    scorer.close()
    columns = {n: expected.values[:, k].tolist() for k, n in enumerate(expected.names)}
    for i, row in enumerate(good):
        got = by_row[row["answer"], row["response"]]
        assert same(got["reward"], expected.total[i].item()) and got["error"] == ""
        assert got["valid"] == expected.valid[i].item()
        for name, values in columns.items():
            assert same(got[f"item_{name}"], values[i])
    bad = by_row[None, data[5]["response"]]
    assert not bad["valid"] and math.isnan(bad["reward"]) and "D004" in bad["error"]


def test_a_pandas_batch_comes_back_as_pandas():
    pd = pytest.importorskip("pandas")
    scorer = RubricScorer(ARITH)
    frame = pd.DataFrame(rows(6))
    out = scorer(frame)
    scorer.close()
    assert isinstance(out, pd.DataFrame)
    assert list(out["reward"].fillna(-1)) == [0.0, 1.0, 1.0, 0.0, 1.0, -1.0]
    assert list(out["valid"]) == [True] * 5 + [False]


def test_score_on_ray_writes_what_score_writes(local_ray, tmp_path):
    import json

    from rubricc.cli import main

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(30)))
    plain, on_ray = tmp_path / "plain.jsonl", tmp_path / "ray.jsonl"
    assert main(["score", ARITH, str(data), "--out", str(plain)]) == 1  # row 5 has no reward
    assert main(["score", ARITH, str(data), "--out", str(on_ray), "--ray", "local",
                 "--actors", "1", "--batch", "8"]) == 1  # the module's Ray has 2 CPUs
    want = [json.loads(x) for x in plain.read_text().splitlines()]
    got = [json.loads(x) for x in on_ray.read_text().splitlines()]
    assert [g["answer"] for g in got] == [w["answer"] for w in want]  # in the input's order
    assert [g["reward"] for g in got] == [w["reward"] for w in want]
    assert [g["items"] for g in got[:5]] == [w["items"] for w in want[:5]]
    assert "answer" in got[5]["error"]
