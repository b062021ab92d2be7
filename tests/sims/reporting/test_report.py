"""sims.reporting.report: figures and the Markdown/JSON report rebuilt from finished results folders of a toy
experiment; the quick-preset banner; REPORT.json records; a config.json this version cannot read
is named. (The `gfs figures` / `gfs report` command lines are in tests/sims/test_bad_input.py.)"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sims.reporting import report
from sims.foundations.errors import InputError
from sims.experiments.runner import Experiment, get_experiment, register, run_experiment
from theory.claims import Verdict

NAME = "toy-report"


@dataclass(frozen=True)
class ToyReportConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    n_max: int = 3


def _cells(config):
    return [{"seed": seed} for seed in config.seeds]


def _run_cell(config, cell):
    return [{"dataset": "toy", "method": "gfs", "m": 10, "n": n, "seed": cell["seed"], "metric": "loss",
             "value": 1.0 / (n * (cell["seed"] + 1))} for n in range(1, config.n_max + 1)]


def _figures(rows, config, folder):
    """Stand-in figures whose bytes say which rows and config drew them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{NAME}_curve.png", folder / f"{NAME}_curve.pdf"]
    for path in paths:
        path.write_text(f"{len(rows)} rows, n_max {config.n_max}")
    return paths


def _claims(rows, config):
    return [
        Verdict("P0 bound at every n", "held", "ratio 0.5 | worst\nat n=3", numbers={"worst": 0.5, "at": math.inf},
                kind="theorem", seeds=len(config.seeds)),
        Verdict("loss falls", "indistinguishable", f"{len(rows)} rows", numbers={"gap": math.nan, "count": 3},
                seeds=len(config.seeds), false_held_rate=0.025, power=0.8, calibration_note="simulated at the design",
                false_not_held_rate=0.02, effect_of_interest=-0.1, groups_tested=2, groups_total=2,
                calibration_null="the true gap is 0", calibration_replicates=4000),
    ]


def _summary(rows, config):
    return ["| n_max | rows |", "|---|---|", f"| {config.n_max} | {len(rows)} |"]


register(Experiment(NAME, ToyReportConfig, lambda: ToyReportConfig(seeds=(0,), n_max=2), _cells, _run_cell,
                    figures=_figures, claims=_claims, description="a toy for the report", summary=_summary))


def _run(out, config=ToyReportConfig()):
    return run_experiment(NAME, config, out=out, progress=False, log=lambda _: None)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(full-scale folder, quick folder) of the toy experiment."""
    root = tmp_path_factory.mktemp("report")
    return _run(root / "results"), _run(root / "results", get_experiment(NAME).quick())


# ---------------------------------------------------------------- configs


def test_load_config_and_load_folder_give_back_what_was_run(folders):
    full, quick = folders
    experiment, config = report.load_config(full)
    assert experiment is get_experiment(NAME) and config == ToyReportConfig()
    assert report.load_config(quick)[1] == ToyReportConfig(seeds=(0,), n_max=2)
    experiment, config, rows = report.load_folder(quick)
    assert config.n_max == 2 and len(rows) == 2
    assert sorted((row["n"], row["value"]) for row in rows) == [(1, 1.0), (2, 0.5)]


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda text: text[: len(text) // 2], "Expecting"),  # truncated JSON
        (lambda text: "junk", "Expecting value"),
        (lambda text: json.dumps({"config": {}}), "'experiment'"),  # no experiment name
        (lambda text: json.dumps({"experiment": "no-such-experiment", "config": {}}), "no-such-experiment"),
        (lambda text: json.dumps({"experiment": NAME, "config": {"renamed_field": 1}}), "renamed_field"),
        (lambda text: json.dumps({"experiment": NAME, "config": {"n_max": "three"}}), "n_max"),
        (lambda text: json.dumps([1, 2]), "list indices"),
    ],
)
def test_load_config_on_a_damaged_config_names_the_folder(tmp_path, damage, fragment):
    folder = _run(tmp_path / "results")
    path = folder / "config.json"
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValueError) as refused:
        report.load_config(folder)
    message = str(refused.value)
    assert isinstance(refused.value, InputError)
    assert message.startswith(f"results folder {str(folder)!r} cannot be read by this version of gfs-toolkit")
    assert fragment in message and "\n" not in message


def test_load_config_without_a_config_names_the_folder(tmp_path):
    with pytest.raises(InputError, match=f"results folder {str(tmp_path)!r} cannot be read"):
        report.load_config(tmp_path)


def test_is_quick_preset():
    experiment = get_experiment(NAME)
    assert report.is_quick_preset(experiment, experiment.quick())
    assert report.is_quick_preset(experiment, ToyReportConfig(seeds=(0,), n_max=2))
    assert not report.is_quick_preset(experiment, ToyReportConfig())
    assert not report.is_quick_preset(experiment, replace(experiment.quick(), n_max=3))


# ---------------------------------------------------------------- verdict records


def test_verdict_record_fields():
    theorem, empirical = _claims([{}] * 6, ToyReportConfig())
    assert report.verdict_record("e", theorem) == {
        "experiment": "e", "claim": "P0 bound at every n", "kind": "theorem", "verdict": "held",
        "evidence": "ratio 0.5 | worst\nat n=3", "seeds": 3, "false_held_rate": None, "power": None,
        "calibration": None, "numbers": {"worst": 0.5, "at": None}}
    record = report.verdict_record("e", empirical)
    assert record["verdict"] == "indistinguishable" and record["kind"] == "empirical"
    assert (record["false_held_rate"], record["false_not_held_rate"], record["power"]) == (0.025, 0.02, 0.8)
    assert (record["effect_of_interest"], record["groups_tested"], record["groups_total"]) == (-0.1, 2, 2)
    assert record["calibration"] == {"null": "the true gap is 0", "replicates": 4000, "note": "simulated at the design"}
    assert record["numbers"] == {"gap": None, "count": 3.0}
    assert isinstance(record["numbers"]["count"], float)
    json.dumps(record, allow_nan=False)  # plain JSON: no NaN or Infinity


# ---------------------------------------------------------------- figures and report


def test_write_figures_draws_every_folder_from_its_own_rows(folders, tmp_path):
    full, quick = folders
    written = report.write_figures([full], tmp_path / "figures")
    assert written == [tmp_path / "figures" / f"{NAME}_curve.png", tmp_path / "figures" / f"{NAME}_curve.pdf"]
    assert written[0].read_text() == "9 rows, n_max 3"
    written = report.write_figures([full, quick], tmp_path / "both")
    assert len(written) == 4
    assert written[0].read_text() == "2 rows, n_max 2"  # the quick folder drew last, over the same names
    assert report.write_figures([], tmp_path / "none") == []


def test_write_report_on_a_full_scale_folder(folders, tmp_path):
    full, _ = folders
    figures = tmp_path / "figures"
    report.write_figures([full], figures)
    (figures / "other-experiment_x.png").write_text("not ours")
    path = tmp_path / "out" / "REPORT.md"
    text = report.write_report([full], path, figures)
    assert path.read_text() == text
    lines = text.splitlines()
    assert lines[0] == "# Report: do the published guarantees hold?"
    assert "Smoke run" not in text
    assert f"## {NAME}: a toy for the report" in lines
    assert any(line.startswith(f"Results: `{full}` (9 rows; git ") for line in lines)
    # one table row per verdict; a '|' in a cell is escaped and a newline becomes a space
    assert r"| P0 bound at every n | theorem | **held** | 3 | – | – | – | – | ratio 0.5 \| worst at n=3 |" in lines
    empirical_line = "| loss falls | empirical | **indistinguishable** | 3 | 2/2 | 2.5% | 2.0% | 80.0% | 9 rows |"
    assert empirical_line in lines
    # the experiment's summary follows its table
    assert lines.index("| 3 | 9 |") > lines.index(empirical_line)
    # the family line: one calibrated empirical verdict, its two rates summed
    assert report.family_line({"empirical_verdicts": 1, "expected_false_held": 0.025,
                               "expected_false_not_held": 0.02}) in lines
    # its PNG figures, linked relative to the report; not the PDF, not another experiment's
    assert f"![{NAME}_curve](../figures/{NAME}_curve.png)" in lines
    assert f"{NAME}_curve.pdf" not in text and "other-experiment" not in text
    document = json.loads(path.with_suffix(".json").read_text())
    assert document["verdicts"] == [report.verdict_record(NAME, v) for v in _claims([{}] * 9, ToyReportConfig())]
    assert document["family"] == {"empirical_verdicts": 1, "expected_false_held": 0.025,
                                  "expected_false_not_held": 0.02}
    assert sorted(p.name for p in path.parent.iterdir()) == ["REPORT.json", "REPORT.md"]  # no temporaries


def test_write_report_over_a_quick_preset_opens_with_the_banner(folders, tmp_path):
    full, quick = folders
    text = report.write_report([quick], tmp_path / "REPORT.md", tmp_path / "figures")
    lines = text.splitlines()
    assert lines[2] == report.QUICK_BANNER
    assert lines[2].startswith("> **Smoke run.**") and "--quick" in lines[2]
    assert lines.index(report.QUICK_BANNER) < next(i for i, line in enumerate(lines) if line.startswith("Generated"))
    assert "| loss falls | empirical | **indistinguishable** | 1 | 2/2 | 2.5% | 2.0% | 80.0% | 2 rows |" in lines
    assert '"seeds": [0]' in text and '"n_max": 2' in text  # its non-default fields
    # one quick folder among full-scale ones is enough for the banner; each folder keeps its section
    mixed = report.write_report([full, quick], tmp_path / "mixed.md", tmp_path / "figures")
    assert mixed.count(report.QUICK_BANNER) == 1
    assert mixed.count(f"## {NAME}: a toy for the report") == 2
    assert mixed.index(f"`{full}` (9 rows") < mixed.index(f"`{quick}` (2 rows")
    mixed_document = json.loads((tmp_path / "mixed.json").read_text())
    assert len(mixed_document["verdicts"]) == 4
    assert mixed_document["family"]["empirical_verdicts"] == 2
    assert mixed_document["family"]["expected_false_held"] == pytest.approx(0.05)


def test_write_report_of_a_damaged_folder_writes_nothing(tmp_path):
    folder = _run(tmp_path / "results")
    (folder / "config.json").write_text("junk")
    with pytest.raises(InputError, match="cannot be read"):
        report.write_report([folder], tmp_path / "REPORT.md", tmp_path / "figures")
    assert not (tmp_path / "REPORT.md").exists() and not (tmp_path / "REPORT.json").exists()


def test_a_bar_in_a_claim_is_escaped_like_one_in_the_evidence(tmp_path):
    experiment = get_experiment(NAME)
    register(replace(experiment, claims=lambda rows, config: [Verdict("a | b", "held", "c | d", kind="theorem")]))
    try:
        folder = _run(tmp_path / "results")
        lines = report.write_report([folder], tmp_path / "REPORT.md", tmp_path / "figures").splitlines()
    finally:
        register(experiment)
    assert r"| a \| b | theorem | **held** | 0 | – | – | – | – | c \| d |" in lines


# ---------------------------------------------------------------- committed results and the README


def test_report_rebuilds_from_compressed_rows(folders, tmp_path):
    """A results folder whose rows are committed as rows.csv.gz (no rows.csv) loads the same rows
    and `gfs report` finds it and writes the same report."""
    import gzip
    import shutil

    from sims.cli.commands import main

    full, _ = folders
    plain = report.write_report([full], tmp_path / "plain" / "REPORT.md", tmp_path / "figures")
    copy = tmp_path / "results" / full.name
    shutil.copytree(full, copy)
    (copy / "rows.csv.gz").write_bytes(gzip.compress((copy / "rows.csv").read_bytes()))
    (copy / "rows.csv").unlink()
    assert report.load_folder(copy)[2] == report.load_folder(full)[2]
    assert main(["report", "--out", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")]) == 0
    rebuilt = (tmp_path / "results" / "REPORT.md").read_text()
    assert rebuilt.replace(str(copy), str(full)) == plain
    (copy / "rows.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="rows.csv.gz"):
        report.load_folder(copy)


def test_readme_lines_and_their_command(tmp_path, capsys):
    document = {"family": {"empirical_verdicts": 1, "expected_false_held": 0.025, "expected_false_not_held": 0.02},
                "verdicts": [report.verdict_record("e", v) for v in _claims([{}] * 9, ToyReportConfig())]}
    lines = report.readme_lines(document)
    assert lines[0] == report.README_BEGIN and lines[-1] == report.README_END
    assert report.family_line(document["family"]) in lines
    assert "| e | P0 bound at every n | **held** | 3 | – | – | – | – |" in lines
    assert "| e | loss falls | **indistinguishable** | 3 | 2/2 | 2.5% | 2.0% | 80.0% |" in lines
    path = tmp_path / "REPORT.json"
    path.write_text(json.dumps(document))
    assert report.main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    assert report.main([str(tmp_path / "missing.json")]) == 2 and "cannot be read" in capsys.readouterr().err


def _normalised(text: str) -> str:
    return text.replace("−", "-").replace("×", "")


def test_readme_results_are_found_in_the_committed_report():
    """Every verdict the README's Results section states comes from the committed
    results/REPORT.json: its generated verdict block equals `python -m sims.reporting.report
    results/REPORT.json`, and every interval it quotes, 'x [a, b]', is found in the committed
    REPORT.json or REPORT.md (both written by `gfs report`)."""
    import re

    root = Path(__file__).resolve().parents[2]
    committed = root / "results" / "REPORT.json"
    if not committed.exists():
        pytest.skip("results/REPORT.json is not committed yet (the lead commits the full-scale run's results/)")
    document = json.loads(committed.read_text())
    readme = (root / "README.md").read_text()
    results = readme[readme.index("## Results"):]
    results = results[:results.index("\n## ", 1)] if "\n## " in results[1:] else results
    assert report.README_BEGIN in results and report.README_END in results, (
        "README's Results has no generated verdict block: paste `python -m sims.reporting.report results/REPORT.json`")
    begin, end = results.index(report.README_BEGIN), results.index(report.README_END)
    assert results[begin:end + len(report.README_END)].splitlines() == report.readme_lines(document)
    generated = _normalised(committed.read_text() + (root / "results" / "REPORT.md").read_text())
    for number, low, high in re.findall(r"(-?[\d.]+) \[(-?[\d.]+), (-?[\d.]+)\]", _normalised(results)):
        assert f"{number} [{low}, {high}]" in generated, f"README quotes {number} [{low}, {high}], not in the report"
