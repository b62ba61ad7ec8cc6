"""The ablation report on synthetic inputs: spreads over seeds, missing numbers, escaping, repeatability."""

from __future__ import annotations

import json
import math
import re

import pytest

from glassbox.errors import DataError
from glassbox.model_files import history_path, load_history_csv, save_history_csv
from glassbox.report import faithfulness_text, interpretation_summary, save_val_loss_csv, summary_metrics
from glassbox.report_files import write_report
from glassbox.report_table import markdown_report
from report_inputs import SAMPLE_SOURCE, read_ablation, write_ablation, write_model

THREE_SEEDS = {"baseline": [0.90, 0.92, 0.97], "l1_only": [0.95, 0.95, 0.95]}


def test_spread_over_three_seeds(tmp_path):
    summaries, _ = write_ablation(tmp_path, THREE_SEEDS)

    baseline = summaries[0].spreads["test_accuracy"]
    # Mean 0.93; deviations -0.03, -0.01, 0.04; sample variance (0.0009 + 0.0001 + 0.0016) / 2.
    assert baseline.n == 3
    assert baseline.mean == pytest.approx(0.93)
    assert baseline.std == pytest.approx(math.sqrt(0.0013))
    assert summaries[1].spreads["test_accuracy"].std == pytest.approx(0.0)


def test_spread_shown_in_table(tmp_path):
    summaries, results = write_ablation(tmp_path, THREE_SEEDS)

    table = markdown_report(summaries, results, SAMPLE_SOURCE)

    baseline_row = next(line for line in table.splitlines() if line.startswith("| baseline | 128-64 relu |"))
    assert "| 3 | 0.9300 ± 0.0361 |" in baseline_row
    assert "| 0.3000 ± 0.0000 |" in baseline_row  # test loss, the same for every seed
    assert "| baseline | 2 | 0.9700 |" in table  # one row per model too


def test_one_seed_has_no_spread(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.91]})

    assert summaries[0].spreads["test_accuracy"].std is None
    table = markdown_report(summaries, results, SAMPLE_SOURCE)
    row = next(line for line in table.splitlines() if line.startswith("| baseline | 128-64 relu |"))
    assert "| 1 | 0.9100 | 0.3000 | 3 | 5 |" in row
    assert "±" not in row


def test_summary_metrics_per_variant(tmp_path):
    summaries, _ = write_ablation(tmp_path, {"baseline": [0.90, 0.92, 0.97], "l1_only": [0.95, 0.95, 0.95]})

    numbers = summary_metrics(summaries)

    assert numbers["baseline"]["n_seeds"] == 3
    assert numbers["baseline"]["test_accuracy_mean"] == pytest.approx(0.93)
    assert numbers["baseline"]["test_accuracy_std"] == pytest.approx(math.sqrt(0.0013))
    assert numbers["baseline"]["focus_max_mean"] == pytest.approx(0.5)
    assert "n_multi_region_mean" not in numbers["baseline"]  # no seed recorded it


def test_summary_metrics_one_seed_has_no_std(tmp_path):
    summaries, _ = write_ablation(tmp_path, {"baseline": [0.91]})

    numbers = summary_metrics(summaries)["baseline"]

    assert numbers["test_accuracy_mean"] == pytest.approx(0.91)
    assert "test_accuracy_std" not in numbers


def test_interpretation_summary_reads_expected_keys(tmp_path):
    path = tmp_path / "interpretation.json"
    path.write_text(json.dumps({
        "run_id": "abc",
        "first_layer": {"near_zero_share": 0.25},
        "focus": {"mean": 0.2, "max": 0.6},
        "pathway": {"target": "class 4"},
        "regions": {"n_multi_region": 7},
        "faithfulness": {
            "most_faithful": "linear pathway",
            "most_faithful_beats_random_order": True,
            "most_faithful_beats_random_weight_model": False,
        },
    }))

    summary = interpretation_summary(path)

    assert summary == {
        "run_id": "abc",
        "near_zero_share": 0.25,
        "focus_mean": 0.2,
        "focus_max": 0.6,
        "pathway_target": "class 4",
        "n_multi_region": 7,
        "faithfulness": "linear pathway (not better than the random-weight model)",
    }


def test_interpretation_summary_missing_keys_are_none(tmp_path):
    path = tmp_path / "interpretation.json"
    path.write_text(json.dumps({"focus": {"mean": 0.2}}))

    summary = interpretation_summary(path)

    assert summary["focus_mean"] == 0.2
    assert summary["focus_max"] is None
    assert summary["n_multi_region"] is None
    assert summary["faithfulness"] is None


def test_missing_numbers_shown_as_na(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9, 0.9]})

    table = markdown_report(summaries, results, SAMPLE_SOURCE)

    row = next(line for line in table.splitlines() if line.startswith("| baseline | 128-64 relu |"))
    assert row.endswith("| n/a | n/a |")  # multi-region neurons, faithfulness


def test_multi_region_and_faithfulness_shown(tmp_path):
    for seed, (count, winner) in enumerate([(4, "integrated gradients"), (6, "integrated gradients")]):
        interpretation = {
            "run_id": f"run{seed}",
            "first_layer": {"near_zero_share": 0.1},
            "focus": {"mean": 0.2, "max": 0.5},
            "regions": {"n_multi_region": count},
            "faithfulness": {
                "most_faithful": winner,
                "most_faithful_beats_random_order": True,
                "most_faithful_beats_random_weight_model": True,
            },
        }
        write_model(tmp_path, "baseline", seed, test_accuracy=0.9, interpretation=interpretation)
    summaries, results = read_ablation(tmp_path, {"baseline": [0.9, 0.9]})

    table = markdown_report(summaries, results, SAMPLE_SOURCE)

    row = next(line for line in table.splitlines() if line.startswith("| baseline | 128-64 relu |"))
    assert row.endswith(f"| 5.0 ± {math.sqrt(2):.1f} | integrated gradients |")


def test_faithfulness_disagreement_counts_seeds():
    assert faithfulness_text(["faithful", "faithful"]) == "faithful"
    assert faithfulness_text([None, None]) == "n/a"
    assert faithfulness_text(["not faithful", "faithful", None]) == (
        "faithful (1 of 3 seeds); not faithful (1 of 3 seeds); n/a (1 of 3 seeds)"
    )


def test_sample_warning_only_below_full_mnist(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9]})
    full = {**SAMPLE_SOURCE, "source": "openml", "description": "MNIST, 70,000 images", "n_images": 70000, "n_train": 60000, "n_test": 10000}

    sample_table = markdown_report(summaries, results, SAMPLE_SOURCE)
    full_table = markdown_report(summaries, results, full)

    assert "5,000 images" in sample_table
    assert "**Warning:** These results come from 5,000 images" in sample_table
    assert "Warning" not in full_table
    assert "official split 60,000 training / 10,000 test" in full_table


def test_pixel_maps_name_their_target(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9], "l1_only": [0.9]})

    table = markdown_report(summaries, results, SAMPLE_SOURCE)

    assert "## Pixels pushing toward class 4 (linear pathway)" in table
    assert "| baseline, seed 0, toward class 4 | l1_only, seed 0, toward class 4 |" in table
    assert "![l1_only: pixel heat map](variants/l1_only/seed0/pathway_pixels.png)" in table


def test_missing_metrics_file_named(tmp_path):
    write_ablation(tmp_path, {"baseline": [0.9]})

    with pytest.raises(DataError, match=r"metrics/baseline/seed1\.json: metrics file not found"):
        read_ablation(tmp_path, {"baseline": [0.9, 0.9]})


def test_history_csv_round_trip(tmp_path):
    path = tmp_path / history_path("baseline", 0)
    history = {"val_loss": [0.5, 0.25], "loss": [1.0, 1 / 3]}

    save_history_csv(history, path)

    assert path.read_text().splitlines()[0] == "epoch,loss,val_loss"
    assert load_history_csv(path) == {"epoch": [1, 2], "loss": [1.0, 1 / 3], "val_loss": [0.5, 0.25]}


def test_history_csv_without_header_rejected(tmp_path):
    path = tmp_path / "seed0.csv"
    path.write_text("1,0.5\n")

    with pytest.raises(DataError, match=r"seed0\.csv: expected a CSV with a header row"):
        load_history_csv(path)


def test_val_loss_csv_has_every_model(tmp_path):
    _, results = write_ablation(tmp_path, {"baseline": [0.9, 0.9], "l1_only": [0.9, 0.9]})
    path = tmp_path / "val_loss.csv"

    save_val_loss_csv(results, path)

    lines = path.read_text().splitlines()
    assert lines[0] == "variant,seed,epoch,val_loss,loss"
    models = {tuple(line.split(",")[:2]) for line in lines[1:]}
    assert models == {("baseline", "0"), ("baseline", "1"), ("l1_only", "0"), ("l1_only", "1")}
    assert len(lines) == 1 + 4 * 5  # five epochs per model


def test_html_escapes_inserted_text(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9]})
    source = {**SAMPLE_SOURCE, "description": '<script>alert("x")</script> & more'}

    page = write_report(summaries, results, source, tmp_path / "reports").page_html.read_text()

    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page


def test_html_embeds_every_image(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9], "l1_only": [0.9]})

    page = write_report(summaries, results, SAMPLE_SOURCE, tmp_path / "reports").page_html.read_text()

    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == 2 + 2 * 2  # two charts, two figures per variant
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert "http://" not in page
    assert "https://" not in page


def test_report_same_bytes_twice(tmp_path):
    summaries, results = write_ablation(tmp_path, {"baseline": [0.9, 0.92], "l1_only": [0.95, 0.93]})

    first = write_report(summaries, results, SAMPLE_SOURCE, tmp_path / "first")
    second = write_report(summaries, results, SAMPLE_SOURCE, tmp_path / "second")

    for one, other in zip(first.all(), second.all()):
        assert one.read_bytes() == other.read_bytes(), one.name
