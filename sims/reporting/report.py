"""Figures and the Markdown report, rebuilt from finished results folders (never from memory),
so `gfs figures` and `gfs report` can be rerun at any time."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path

from sims.foundations.errors import InputError
from sims.foundations.io import atomic_write
from sims.experiments.configs import config_from_mapping
from sims.experiments.runner import get_experiment
from sims.results.rows import load_results

__all__ = ["load_config", "load_folder", "is_quick_preset", "write_figures", "verdict_record", "family_record",
           "family_line", "write_report", "readme_lines"]


def load_config(folder: str | Path):
    """(experiment, config) of a results folder written by the runner. A config.json that this
    version cannot read (damaged, or written by a version with other config fields) raises a
    ValueError naming the folder."""
    try:
        stored = json.loads((Path(folder) / "config.json").read_text())
        experiment = get_experiment(stored["experiment"])
        return experiment, config_from_mapping(experiment.config_class, stored["config"])
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise InputError(f"results folder {str(folder)!r} cannot be read by this version of gfs-toolkit "
                         f"({error}); rerun its experiment into another --out, or delete it") from None


def load_folder(folder: str | Path):
    """(experiment, config, rows) of a results folder written by the runner."""
    return (*load_config(folder), load_results(folder))


def is_quick_preset(experiment, config) -> bool:
    """True when ``config`` is the experiment's ``--quick`` preset (a one-seed smoke run)."""
    return config == experiment.quick()


QUICK_BANNER = ("> **Smoke run.** These results come from the `--quick` preset: one seed and small sizes, "
                "meant to show that the pipeline runs. Theorem checks are evaluated in full; an empirical claim "
                "needs at least 3 seeds, so here it reads 'not testable'. Its verdicts may differ from the "
                "full-scale ones (`gfs run all`), which are the ones the README reports.")


def write_figures(folders, figures_folder: str | Path) -> list[Path]:
    """Every experiment's figures (PNG and PDF) into ``figures_folder``; returns the paths."""
    written = []
    for folder in folders:
        experiment, config, rows = load_folder(folder)
        written += experiment.figures(rows, config, Path(figures_folder))
    return written


def _rate(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def verdict_record(experiment: str, verdict) -> dict:
    """One entry of REPORT.json: the verdict as plain JSON (numbers that are not finite become
    null)."""
    def plain(value):
        return value if value is None or math.isfinite(value) else None

    record = {"experiment": experiment, "claim": verdict.claim, "kind": verdict.kind, "verdict": verdict.outcome,
              "evidence": verdict.summary, "seeds": verdict.seeds,
              "false_held_rate": verdict.false_held_rate, "power": verdict.power,
              "calibration": verdict.calibration_note or None,
              "numbers": {key: plain(float(value)) for key, value in verdict.numbers.items()}}
    if verdict.kind == "empirical":
        record.update(
            false_not_held_rate=verdict.false_not_held_rate, effect_of_interest=verdict.effect_of_interest,
            groups_tested=verdict.groups_tested, groups_total=verdict.groups_total,
            calibration=None if verdict.false_held_rate is None else {
                "null": verdict.calibration_null, "replicates": verdict.calibration_replicates,
                "note": verdict.calibration_note})
    return record


def family_record(records: list[dict]) -> dict:
    """The family line: how many empirical verdicts were decided by a calibrated rule, and the
    expected number of false "held" and false "did not hold" among them if every claim sat at
    its boundary (the global null): the sums of their rates."""
    calibrated = [r for r in records if r["kind"] == "empirical" and r["false_held_rate"] is not None]
    return {"empirical_verdicts": len(calibrated),
            "expected_false_held": float(sum(r["false_held_rate"] for r in calibrated)),
            "expected_false_not_held": float(sum(r.get("false_not_held_rate") or 0.0 for r in calibrated))}


def family_line(family: dict) -> str:
    """The family line of REPORT.md."""
    return (f"**Family.** {family['empirical_verdicts']} empirical verdicts with a calibrated rule; if every claim "
            f"sat at its boundary (the global null), {family['expected_false_held']:.2f} false *held* and "
            f"{family['expected_false_not_held']:.2f} false *did not hold* would be expected among them (sums of "
            f"the rates below).")


# "14.0 [14.0, 14.0]" or "0.3 [nan, nan]": an interval over one seed, which has none
_ONE_SEED_INTERVAL = re.compile(r"(?<![\w.])(-?(?:\d+\.?\d*|inf)(?:e[+-]?\d+)?) \[(?:\1, \1|nan, nan)\]")


def one_seed_text(text: str) -> str:
    """``text`` with each interval of a one-seed number ("14.0 [14.0, 14.0]") written as
    "14.0 (1 seed: no interval)"; for results of one seed only."""
    return _ONE_SEED_INTERVAL.sub(r"\1 (1 seed: no interval)", text)


def _cell(text: str) -> str:
    """Text as one Markdown table cell: bars escaped, line breaks as spaces."""
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(folders, report_path: str | Path, figures_folder: str | Path) -> str:
    """A Markdown report (and REPORT.json beside it: ``{"family": family_record, "verdicts": [one
    verdict_record per verdict]}``): the family line, then for each experiment each claim with
    its kind, verdict, seeds, groups tested, both error rates, power and evidence, and the
    experiment's figures from ``figures_folder`` linked relative to ``report_path``. A report
    over a ``--quick`` preset opens with a note that it is a smoke run."""
    report_path = Path(report_path)
    records: list[dict] = []
    lines = ["# Report: do the published guarantees hold?", ""]
    if any(is_quick_preset(*load_config(folder)) for folder in folders):
        lines += [QUICK_BANNER, ""]
    lines += ["Generated by `gfs report` from the tidy results; every verdict comes from `theory.claims`.",
              "A *theorem* check evaluates a proposition's inequality at every measured point (held or violated). "
              "An *empirical* claim is held, did not hold or indistinguishable by a symmetric rule on per-seed "
              "statistics (Student-t, 95%); *false held* is how often that rule says held, at this design and "
              "noise, with the truth at the claim's boundary, *false did not hold* how often it says did not hold "
              "with the truth at its negation's boundary, and *power* how often it says held at an effect of "
              "interest fixed before the run (simulated; "
              "see docs/THEORY.md, 'How verdicts are made'). The same verdicts are in REPORT.json beside this file.",
              ""]
    for folder in folders:
        experiment, config, rows = load_folder(folder)
        one_seed = len({row["seed"] for row in rows if row.get("seed") is not None}) == 1
        plain = one_seed_text if one_seed else (lambda text: text)
        meta = json.loads((Path(folder) / "meta.json").read_text()) if (Path(folder) / "meta.json").exists() else {}
        lines += [f"## {experiment.name}: {experiment.description}", "",
                  f"Results: `{folder}` ({len(rows)} rows; git {str(meta.get('git_revision'))[:10]}; "
                  f"non-default config: `{json.dumps(meta.get('non_default_fields', {}), default=list)}`).", "",
                  "| claim | kind | verdict | seeds | groups tested | false held | false did not hold | power | "
                  "evidence |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for verdict in experiment.claims(rows, config):
            records.append(verdict_record(experiment.name, verdict))
            groups = "–" if verdict.kind == "theorem" else f"{verdict.groups_tested or 0}/{verdict.groups_total or 1}"
            lines.append(f"| {_cell(verdict.claim)} | {verdict.kind} | **{verdict.outcome}** | {verdict.seeds} | "
                         f"{groups} | {_rate(verdict.false_held_rate)} | {_rate(verdict.false_not_held_rate)} | "
                         f"{_rate(verdict.power)} | {_cell(plain(verdict.summary))} |")
        lines.append("")
        if experiment.summary is not None:
            lines += [plain(line) for line in experiment.summary(rows, config)] + [""]
        figures = sorted(Path(figures_folder).glob(f"{experiment.name}_*.png"))
        for figure in figures:  # linked relative to the report, so the pair can be moved together
            link = Path(os.path.relpath(figure.resolve(), report_path.parent.resolve())).as_posix()
            lines.append(f"![{figure.stem}]({link})")
        lines.append("")
    family = family_record(records)
    after = next(i for i, line in enumerate(lines) if line.startswith("Generated by")) + 2
    lines[after:after] = [family_line(family), ""]
    text = "\n".join(lines)
    document = {"family": family, "verdicts": records}
    atomic_write(report_path.with_suffix(".json"),
                 lambda temporary: Path(temporary).write_text(json.dumps(document, indent=1, ensure_ascii=False)))
    atomic_write(report_path, lambda temporary: Path(temporary).write_text(text))
    return text


README_BEGIN = "<!-- verdicts: generated by `python -m sims.reporting.report results/REPORT.json`; do not edit by hand -->"
README_END = "<!-- end of generated verdicts -->"


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def readme_lines(document: dict) -> list[str]:
    """The README's verdict block from a REPORT.json document (``{"family", "verdicts"}``):
    README_BEGIN, the family line, one table row per verdict (experiment, claim, verdict, seeds,
    groups tested, false held, false did not hold, power), README_END. The README quotes this
    block verbatim, so every verdict it states comes from the committed report."""
    family = document["family"]
    lines = [README_BEGIN, "", family_line(family), "",
             "| experiment | claim | verdict | seeds | groups | false held | false did not hold | power |",
             "|---|---|---|---|---|---|---|---|"]
    for record in document["verdicts"]:
        groups = ("–" if record["kind"] == "theorem" else
                  f"{record.get('groups_tested') or 0}/{record.get('groups_total') or 1}")
        lines.append(f"| {record['experiment']} | {_cell(record['claim'])} | **{record['verdict']}** | "
                     f"{record['seeds']} | {groups} | {_percent(record['false_held_rate'])} | "
                     f"{_percent(record.get('false_not_held_rate'))} | {_percent(record['power'])} |")
    return lines + ["", README_END]


def main(argv=None) -> int:
    """``python -m sims.reporting.report REPORT.json``: print the README's verdict block (:func:`readme_lines`)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sims.reporting.report results/REPORT.json", file=sys.stderr)
        return 2
    try:
        document = json.loads(Path(args[0]).read_text())
        lines = readme_lines(document)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"REPORT.json {args[0]!r} cannot be read as a report ({error})", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
