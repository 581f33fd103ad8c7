"""The synthetic full-size plan: the declared shape, valid as a dataset, marked as made up."""

from pathlib import Path

from app.services.dataset import read_dataset
from app.services.synthetic import write_synthetic


def test_the_synthetic_plan_is_full_size_valid_and_marked(tmp_path: Path) -> None:
    folder = tmp_path / "synthetic"
    counts = write_synthetic(folder, seed=7)
    dataset = read_dataset(folder)
    records = dataset.records
    levels = [node.level for node in records.nodes]
    assert {level: levels.count(level) for level in set(levels)} == {
        "axis": 5,
        "ambition": 23,
        "objective": 51,
        "action": 124,
    }
    assert len(records.indicators) == 200
    assert len(records.values) == 100_000 == counts["values"]
    assert records.budget_lines
    assert records.milestones
    assert any(node.progress is not None for node in records.nodes)
    assert {node.weight for node in records.nodes} > {1}
    assert dataset.territory.synthetic is True
    assert "synthétique" in dataset.territory.name
    # The same seed gives the same plan.
    again = tmp_path / "again"
    write_synthetic(again, seed=7)
    for name in ("plan.yaml", "indicators.yaml", "indicator_values.csv"):
        assert (folder / name).read_bytes() == (again / name).read_bytes()
