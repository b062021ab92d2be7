"""The ``gfs`` command line. Each subcommand is one function ``command_<name>(args)`` plus its
arguments in :func:`build_parser`; errors in user input end in one line and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _write_json(path: Path, payload: dict) -> None:
    from sims.model import atomic_write

    atomic_write(path, lambda temporary: Path(temporary).write_text(json.dumps(payload, indent=2) + "\n"))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    from sims.data import DATASETS, INPUT_SCALINGS, TASKS

    group = parser.add_argument_group("data")
    group.add_argument("--data", default="mnist5k", help=f"dataset: {', '.join(DATASETS)} (default mnist5k)")
    group.add_argument("--m", type=_positive_int, default=None, help="training examples (stratified subset)")
    group.add_argument("--test-fraction", type=float, default=0.2, help="held-out share (default 0.2)")
    group.add_argument("--task", default="auto", help=f"{', '.join(TASKS)} (default auto)")
    group.add_argument("--classes", default="0,1", help="the two classes of --task binary (default 0,1)")
    group.add_argument("--input-scaling", default="auto", help=f"{', '.join(INPUT_SCALINGS)} (default auto)")
    group.add_argument("--data-dir", default=None, help="directory of full MNIST's IDX files")
    group.add_argument("--download", action="store_true", help="download full MNIST if missing (needs network)")
    group.add_argument("--data-seed", type=int, default=0, help="seed of split and subset (default 0)")


def _dataset_from_args(args):
    from sims.data import DatasetConfig, load_dataset

    try:
        classes = tuple(int(c) for c in args.classes.split(","))
    except ValueError:
        raise ValueError(f"--classes must be two comma-separated integers, got {args.classes!r}") from None
    config = DatasetConfig(
        name=args.data,
        m=args.m,
        test_fraction=args.test_fraction,
        seed=args.data_seed,
        input_scaling=args.input_scaling,
        task=args.task,
        classes=classes,
        data_dir=args.data_dir,
        download=args.download,
    )
    return config, load_dataset(config)


def command_train(args) -> None:
    """Train a dense network by full-batch GD; write the model, a JSON summary and the loss curve."""
    from dataclasses import asdict

    from sims.model import init_network, save_model
    from sims.plots import plot_loss_curve
    from sims.train import TrainConfig, train

    data_config, dataset = _dataset_from_args(args)
    train_config = TrainConfig(
        lr=args.lr,
        iterations=args.iterations,
        mode=args.mode,
        loss_form=args.loss_form,
        target_loss=args.target_loss,
    )
    model = init_network(
        dataset.input_dim,
        args.width,
        dataset.output_dim,
        activation=args.activation,
        scaling=args.scaling,
        bias=args.bias,
        second_layer="sign" if args.mode == "first" else "gaussian",
        seed=args.seed,
        dtype=args.dtype,
        device=args.device,
    )
    print(f"training width {args.width} {args.scaling} {args.activation} network on {args.data} (m={dataset.m}) ...")
    result = train(model, dataset.train_inputs, dataset.train_targets, train_config, progress=True)
    out = Path(args.out)
    summary = {
        "dataset": asdict(data_config),
        "train": asdict(train_config),
        "model": {"width": args.width, "activation": args.activation, "scaling": args.scaling, "bias": args.bias},
        "seed": args.seed,
        "dtype": args.dtype,
        "steps": result.steps,
        "initial_loss": float(result.losses[0]),
        "final_loss": result.final_loss,
    }
    if dataset.train_labels is not None:
        from sims.model import forward

        summary["train_accuracy"] = _accuracy(forward(result.model, dataset.train_inputs), dataset.train_labels, data_config)
        if dataset.test_inputs.shape[0]:
            summary["test_accuracy"] = _accuracy(forward(result.model, dataset.test_inputs), dataset.test_labels, data_config)
    summary["loss_curve"] = result.losses.tolist()
    save_model(result.model, out, metadata={key: summary[key] for key in ("dataset", "train", "seed", "final_loss")})
    _write_json(out.with_suffix(".json"), summary)
    plot_loss_curve(result.losses, out.with_suffix(".png"), title=f"{args.data}, width {args.width}")
    accuracy = "".join(f", {k} {summary[k]:.3f}" for k in ("train_accuracy", "test_accuracy") if k in summary)
    print(f"loss {result.losses[0]:.4g} -> {result.final_loss:.4g} after {result.steps} steps{accuracy}")
    print(f"wrote {out}, {out.with_suffix('.json')}, {out.with_suffix('.png')}")


def _accuracy(outputs, labels, data_config) -> float:
    outputs = outputs.detach().cpu().numpy()
    if outputs.shape[1] == 1:
        predicted = np.where(outputs[:, 0] > 0, data_config.classes[1], data_config.classes[0])
    else:
        predicted = outputs.argmax(1)
    return float((predicted == labels).mean())


def build_parser() -> argparse.ArgumentParser:
    from sims.model import ACTIVATIONS, SCALINGS
    from sims.train import LOSS_FORMS, TRAIN_MODES

    parser = argparse.ArgumentParser(
        prog="gfs",
        description="Verify the theory of greedy subnetwork selection in two-layer networks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser("train", help="train a dense two-layer network by exact full-batch GD")
    _add_data_arguments(train)
    group = train.add_argument_group("model and training")
    group.add_argument("--width", type=_positive_int, default=1000, help="hidden neurons N (default 1000)")
    group.add_argument("--activation", default="relu", help=f"{', '.join(ACTIVATIONS)} (default relu)")
    group.add_argument("--scaling", default="mean-field", help=f"{', '.join(SCALINGS)} (default mean-field)")
    group.add_argument("--bias", action="store_true", help="first-layer bias")
    group.add_argument("--mode", default="both", help=f"trained layers: {', '.join(TRAIN_MODES)} (default both)")
    group.add_argument("--lr", type=_positive_float, default=1.0, help="width-independent learning rate (default 1.0)")
    group.add_argument("--iterations", type=_positive_int, default=300, help="GD steps (default 300)")
    group.add_argument("--target-loss", type=float, default=None, help="stop once the loss is at most this")
    group.add_argument("--loss-form", default="mean", help=f"{', '.join(LOSS_FORMS)} (default mean)")
    group.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    group.add_argument("--dtype", default="float64", help="float32 or float64 (default float64)")
    group.add_argument("--device", default="cpu", help="torch device (default cpu)")
    group.add_argument("--out", default="runs/train/model.pt", help="model path; .json and .png beside it")
    train.set_defaults(handler=command_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from sims.train import TrainingDiverged

    try:
        args.handler(args)
    except (ValueError, TrainingDiverged, OSError) as error:
        print(f"gfs {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gfs {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
