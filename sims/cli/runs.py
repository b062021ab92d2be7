"""The ``gfs`` commands on experiments and their results: ``run`` experiments (resumable), then write
their figures and the report; ``figures`` and ``report`` rebuild those from finished results. Where
results and figures go by default is decided here (:data:`FULL_RESULTS`, :data:`QUICK_RESULTS`,
:data:`COMMITTED_FIGURES`)."""

from __future__ import annotations

from pathlib import Path

from sims.cli.arguments import check_folder_writable, check_report_path
from sims.cli.drawing import FigureDrawing, launched_as_gfs
from sims.experiments.configs import config_from_mapping
from sims.experiments.runner import check_results_folder, experiments, get_experiment, run_experiments
from sims.foundations.errors import InputError
from sims.foundations.extras import require
from sims.foundations.guards import check_scheduler, check_workers
from sims.foundations.io import remove_stale_temporaries
from sims.reporting.report import is_quick_preset, load_config, write_report

__all__ = ["FULL_RESULTS", "QUICK_RESULTS", "COMMITTED_FIGURES", "command_run", "command_figures", "command_report"]

# Where results and figures live by default: full-scale results in results/ with their figures in
# the committed figures/; every other results root (results/quick by default for --quick) keeps its
# figures in <root>/figures, so a quick or custom run never overwrites the committed figures.
FULL_RESULTS = "results"
QUICK_RESULTS = "results/quick"
COMMITTED_FIGURES = "figures"


def _experiment_config(experiment, args):
    config = experiment.quick() if args.quick else experiment.config_class()
    if args.config:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib
        try:
            with open(args.config, "rb") as handle:
                table = tomllib.load(handle)
        except FileNotFoundError:
            raise InputError(f"--config file {args.config!r} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"--config file {args.config!r} does not parse as TOML: {error}") from None
        except UnicodeDecodeError as error:
            raise InputError(f"--config file {args.config!r} is not UTF-8 text (byte {error.start}); a config is a "
                             "TOML text file") from None
        except IsADirectoryError:
            raise InputError(f"--config {args.config!r} is a folder; give a TOML file") from None
        table = table.get(experiment.name, table)
        config = config_from_mapping(experiment.config_class, table, base=config)
    return config


def command_run(args) -> None:
    """Run (or resume) one experiment or all of them, then write figures and the report."""
    names = list(experiments()) if args.experiment == "all" else [get_experiment(args.experiment).name]
    # quick runs go beside, not over, the full-scale results and the committed figures
    if args.out is None:
        args.out = QUICK_RESULTS if args.quick else FULL_RESULTS
    args.figures = _figures_folder(args.out, args.figures)
    check_workers("--workers", args.workers)
    requests = [(name, _experiment_config(get_experiment(name), args)) for name in names]
    if args.scheduler:  # parsed and answered before any folder or work
        check_scheduler("--scheduler", args.scheduler)
    report_path = Path(args.out) / "REPORT.md"
    check_folder_writable("--out", Path(args.out))
    if not args.no_figures:  # refused before any cell is computed, not after
        check_folder_writable("--figures", Path(args.figures))
        check_report_path("--out", report_path)
        _check_figures_folder(Path(args.figures), [name for name, config in requests
                                                   if is_quick_preset(get_experiment(name), config)])
        require("matplotlib", "drawing figures (or run with --no-figures)")
    if args.no_figures:
        run_experiments(requests, out=args.out, workers=args.workers, scheduler=args.scheduler)
        return
    figures = Path(args.figures)
    one_by_one = args.workers == 1 and not args.scheduler  # each one's figures drawn while the next runs
    with _start_drawing(figures, len(requests) > 1, f"figures go to {figures}/ as each experiment finishes",
                        start_now=one_by_one) as drawing:
        if one_by_one:
            folders = []
            for request in requests:
                folders += run_experiments([request], out=args.out)
                drawing.add(folders[-1])
        else:
            folders = run_experiments(requests, out=args.out, workers=args.workers, scheduler=args.scheduler)
            for folder in folders:
                drawing.add(folder)
        drawing.finish()
    _write_report(_report_folders(args.out, folders), report_path, figures)


def _report_folders(out: str, folders: list[Path]) -> list[Path]:
    """The folders a run's report covers: those just run, and the finished folders under
    ``out`` of every other experiment (as `gfs report` would), so running one experiment does
    not drop the others from REPORT.md (a folder of another config of an experiment just run is
    not the run's, and stays out); a folder that does not check out is named and left out."""
    ran = {_experiment_of(Path(folder)) for folder in folders}
    chosen = []
    for folder in _finished(out):
        if _experiment_of(folder) in ran:
            continue
        try:
            check_results_folder(folder)
        except InputError as error:
            print(f"left out of the report: {error}")
            continue
        chosen.append(folder)
    return sorted([*map(Path, folders), *chosen], key=_experiment_order)


def _experiment_of(folder: Path) -> str:
    """The experiment of a results folder ``<experiment>-<hash>`` (the hash has no dash)."""
    return folder.name.rsplit("-", 1)[0]


def _experiment_order(folder: Path):
    names = list(experiments())
    name = _experiment_of(folder)
    return (names.index(name) if name in names else len(names), folder.name)


def _figures_folder(out: str, figures: str | None) -> str:
    if figures is not None:
        return figures
    same_root = Path(out).resolve() == Path(FULL_RESULTS).resolve()
    return COMMITTED_FIGURES if same_root else str(Path(out) / "figures")


def _check_figures_folder(figures_folder: Path, quick_results: list[str]) -> None:
    """InputError when quick results (named in ``quick_results``) would draw into the committed
    full-scale figures."""
    if quick_results and figures_folder.resolve() == Path(COMMITTED_FIGURES).resolve():
        raise InputError(f"--figures {str(figures_folder)!r} holds the committed full-scale figures; the quick "
                         f"results {', '.join(quick_results)} write theirs to <results>/figures (omit --figures)")


def _start_drawing(figures_folder: Path, helper: bool, announce: str, start_now: bool = False) -> FigureDrawing:
    """A FigureDrawing into ``figures_folder``, with a helper process for several folders when
    this process is the gfs command (not a script calling it, which a helper would re-run)."""
    remove_stale_temporaries(figures_folder)  # leftovers of writes killed mid-way
    print(announce, flush=True)
    return FigureDrawing(figures_folder, log=lambda line: print(line, flush=True), helper=helper and launched_as_gfs(),
                         start_now=start_now)


def _write_figures(folders, figures_folder: Path) -> None:
    quick = [str(folder) for folder in folders if is_quick_preset(*load_config(folder))]
    _check_figures_folder(figures_folder, quick)
    with _start_drawing(figures_folder, len(folders) > 1, f"writing figures to {figures_folder}/ ...") as drawing:
        for folder in folders:
            drawing.add(folder)
        drawing.finish()


def _write_report(folders, report_path: Path, figures_folder: Path) -> None:
    remove_stale_temporaries(report_path.parent)
    print(f"writing {report_path} (checking every claim) ...", flush=True)
    write_report(folders, report_path, figures_folder)
    print(f"wrote {report_path}")


def _finished(out: str) -> list[Path]:
    """Results folders under ``out`` with their rows (rows.csv, or rows.csv.gz as committed)."""
    return sorted({p.parent for pattern in ("*/rows.csv", "*/rows.csv.gz") for p in Path(out).glob(pattern)})


def _result_folders(args) -> list[Path]:
    """The finished results folders ``gfs figures`` and ``gfs report`` work on: under --out if
    given (or results/quick with --quick); by default under results/, falling back, with a
    message, to results/quick when results/ holds no finished run. Sets ``args.out`` and
    ``args.figures`` to the folders used."""
    if args.out is None and args.quick:
        args.out = QUICK_RESULTS
    if args.out is None:
        args.out = FULL_RESULTS
        if not _finished(FULL_RESULTS) and _finished(QUICK_RESULTS):
            args.out = QUICK_RESULTS
            print(f"no full-scale results in {FULL_RESULTS}/; using the quick results in {QUICK_RESULTS}/ "
                  f"(figures in {QUICK_RESULTS}/figures/)")
    folders = _finished(args.out)
    if not folders:
        raise InputError(f"no finished results under --out {args.out!r}; run `gfs run ...` first "
                         f"(`gfs run all --quick` writes {QUICK_RESULTS}/)")
    for folder in folders:  # trusted only as far as it checks out
        check_results_folder(folder)
    args.figures = _figures_folder(args.out, args.figures)
    return folders


def command_figures(args) -> None:
    """Regenerate figures from finished results (see :func:`_result_folders` for which)."""
    folders = _result_folders(args)
    check_folder_writable("--figures", Path(args.figures))
    require("matplotlib", "drawing figures")
    _write_figures(folders, Path(args.figures))


def command_report(args) -> None:
    """Write the Markdown report of every claim's verdict from finished results, linking the
    figures that belong to those results."""
    folders = _result_folders(args)
    report_path = Path(args.report or Path(args.out) / "REPORT.md")
    check_report_path("--report" if args.report else "--out", report_path)
    _write_report(folders, report_path, Path(args.figures))
