"""The ``gfs`` commands on networks and features: ``train`` a dense network, ``select`` neurons from a
feature array, ``prune`` a network (a ``gfs train`` model, or a user's plain ``nn.Sequential``
state dict of any depth), ``compare`` the pruning methods on a user's model. Each is one function
``command_<name>(args)`` of the parsed arguments (:mod:`sims.cli.options` lists their flags)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from sims.cli.arguments import check_writable, dataset_from_args, load_array, user_inputs, write_json
from sims.cli.flags import config_from_flags
from sims.cli.options import NETWORK_FIELDS, SELECTION_FIELDS, SELECTION_RENAMES, SHARDING_FIELDS, TRAIN_FIELDS
from sims.experiments.common import model_metrics
from sims.foundations.errors import InputError
from sims.foundations.guards import (check_device, check_memory, check_scheduler, check_workers, selection_bytes,
                                     training_bytes)
from sims.foundations.io import atomic_write, check_torch_file, remove_stale_temporaries
from sims.nets.model import NetworkConfig, forward, init_network, load_model, resolve_dtype, save_model
from sims.nets.train import TrainConfig, train
from sims.plotting.plots import plot_loss_curve
from sims.pruning.compare import COMPARE_FIELDS, CompareConfig, run_compare
from sims.pruning.layerwise import mlp_from_state_dict, state_dict_of
from sims.pruning.prune import TargetConfig, prune_model, prune_network
from sims.pruning.state_dicts import check_model_matches_data, load_state_dict
from sims.selection.engine import SelectionConfig, select
from sims.selection.sharded import ArraySource, ShardingConfig, chunked_select

__all__ = ["command_train", "command_select", "command_prune", "command_compare"]


def command_train(args) -> None:
    """Train a dense network by full-batch GD; write the model, a JSON summary and the loss curve."""
    network = config_from_flags(NetworkConfig, args, NETWORK_FIELDS)
    check_device(network.device)
    itemsize = resolve_dtype(network.dtype).itemsize
    data_config, dataset = dataset_from_args(args)
    check_memory("--width", training_bytes(dataset.m, dataset.input_dim, network.width, dataset.output_dim, itemsize),
                 f"training a width-{network.width} network on m={dataset.m} examples of dimension "
                 f"{dataset.input_dim} in {network.dtype}")
    check_memory("--iterations", 40.0 * (args.iterations + 1), f"the loss curve of {args.iterations} steps and its JSON")
    out = Path(args.out)
    check_writable("--out", out)
    remove_stale_temporaries(out.parent)
    train_config = config_from_flags(TrainConfig, args, TRAIN_FIELDS)
    model = init_network(
        dataset.input_dim,
        network.width,
        dataset.output_dim,
        activation=network.activation,
        scaling=network.scaling,
        bias=network.bias,
        second_layer="sign" if train_config.mode == "first" else "gaussian",
        seed=network.seed,
        dtype=network.dtype,
        device=network.device,
    )
    print(f"training width {network.width} {network.scaling} {network.activation} network on {data_config.name} "
          f"(m={dataset.m}) ...")
    # a progress bar only on a terminal; in a log the lines before and after say enough
    result = train(model, dataset.train_inputs, dataset.train_targets, train_config, progress=sys.stderr.isatty())
    summary = {
        "dataset": asdict(data_config),
        "train": asdict(train_config),
        "model": {"width": network.width, "activation": network.activation, "scaling": network.scaling,
                  "bias": network.bias},
        "seed": network.seed,
        "dtype": network.dtype,
        "steps": result.steps,
        "initial_loss": float(result.losses[0]),
        "final_loss": result.final_loss,
    }
    if dataset.train_labels is not None:
        metrics = model_metrics(result.model, dataset, classes=data_config.classes)
        summary.update({key: value for key, value in metrics.items() if key.endswith("accuracy")})
    summary["loss_curve"] = result.losses.tolist()
    written = []
    try:  # all three files or none
        save_model(result.model, out, metadata={key: summary[key] for key in ("dataset", "train", "seed", "final_loss")})
        written.append(out)
        write_json(out.with_suffix(".json"), summary)
        written.append(out.with_suffix(".json"))
        plot_loss_curve(result.losses, out.with_suffix(".png"), title=f"{data_config.name}, width {network.width}")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    accuracy = "".join(f", {k} {summary[k]:.3f}" for k in ("train_accuracy", "test_accuracy") if k in summary)
    print(f"loss {result.losses[0]:.4g} -> {result.final_loss:.4g} after {result.steps} steps{accuracy}")
    print(f"wrote {out}, {out.with_suffix('.json')}, {out.with_suffix('.png')}")


def command_select(args) -> None:
    """Select n neurons from a feature array; write indices, losses and weights as JSON."""
    wanted = config_from_flags(SelectionConfig, args, SELECTION_FIELDS, flags=SELECTION_RENAMES)
    sharding = config_from_flags(ShardingConfig, args, ("chunk_rows",))
    # in chunks, the feature file is memory-mapped and read chunk by chunk, never loaded whole
    features = load_array(args.features, "--features", memory_map=not sharding.whole_array)
    target = load_array(args.target, "--target")
    width = features.shape[1] if features.ndim >= 2 else 1
    row_length = int(np.prod(features.shape[:1] + features.shape[2:]))  # m*K
    check_memory("-n", selection_bytes(wanted.n, width, wanted.method, row_length),
                 f"{wanted.n} selection steps over {width} neurons and their JSON output")
    if sharding.whole_array:
        selection = select(features, target, wanted.n, wanted.method, seed=wanted.seed)
    else:
        selection = chunked_select(ArraySource(features, target), wanted.n, wanted.method,
                                   chunk_rows=sharding.chunk_rows, seed=wanted.seed)
    write_json(Path(args.out), selection.to_dict())
    print(f"{wanted.method}: n={wanted.n}, loss {selection.losses[0]:.4g} -> {selection.losses[-1]:.4g}, "
          f"{selection.support_size} distinct neurons; wrote {args.out}")
    if wanted.n > width:
        print(f"note: -n {wanted.n} exceeds the {width} neurons; {wanted.method} may pick a neuron again, so the "
              f"subnetwork has {selection.support_size} distinct neurons, weighted by how often each was picked")


def _check_prune_request(args, wanted, sharding) -> None:
    """What `gfs prune` refuses before loading anything: --scheduler without --shards, an
    address that does not parse or answer, a model file whose bytes were damaged, and an -n
    whose selection record alone (about 150 bytes a step, whatever the width) exceeds memory."""
    if sharding.scheduler is None and sharding.shards > 1:  # a local cluster of --shards workers
        check_workers("--shards", sharding.shards)
    if sharding.scheduler is not None:
        if sharding.shards == 1:
            raise InputError("--scheduler needs --shards N (N > 1): the scheduler's workers hold the shards; without "
                             "--shards the selection runs in this process")
        check_scheduler("--scheduler", sharding.scheduler)
    check_memory("-n", selection_bytes(wanted.n, 0, wanted.method), f"{wanted.n} selection steps and their record")
    check_torch_file(args.model, "--model")


def command_prune(args) -> None:
    """Prune a saved network (or a plain nn.Sequential state dict of any depth) on a dataset's training split."""
    wanted = config_from_flags(SelectionConfig, args, SELECTION_FIELDS, flags=SELECTION_RENAMES)
    sharding = config_from_flags(ShardingConfig, args, SHARDING_FIELDS)
    _check_prune_request(args, wanted, sharding)
    finish = config_from_flags(TargetConfig, args, ("target", "refit", "ridge"))
    if args.state_dict:
        _prune_user_model(args, wanted, sharding, finish)
        return
    if finish.target == "labels-ce" or finish.refit != "none":
        raise InputError("--target labels-ce and --refit apply to a --state-dict model; a `gfs train` model takes "
                         "--target dense or labels")
    _, dataset = dataset_from_args(args)
    model, metadata = load_model(args.model)
    check_model_matches_data(args.model, model.input_dim, model.output_dim, args.data, dataset.input_dim,
                             dataset.output_dim)
    targets = dataset.train_targets
    if finish.target == "dense":
        with torch.no_grad():
            targets = forward(model, dataset.train_inputs).double().cpu().numpy()
    small, selection = prune_model(model, dataset.train_inputs, targets, wanted.n, wanted.method,
                                   seed=wanted.seed, sharding=sharding)
    save_model(small, args.out, metadata={"pruned_from": str(args.model), "method": wanted.method, "n": wanted.n,
                                          "target": finish.target or "labels",
                                          "train_loss": float(selection.losses[-1]), "source": metadata})
    print(f"{wanted.method}: kept {small.width} hidden units, training loss {selection.losses[-1]:.4g}; wrote {args.out}")


def _prune_user_model(args, wanted, sharding, finish) -> None:
    """``gfs prune --state-dict``: sims.pruning.prune.prune_network on a plain nn.Sequential state dict."""
    inputs_line = user_inputs(args)
    _, dataset = dataset_from_args(args)
    mlp = mlp_from_state_dict(load_state_dict(args.model, tensors_only=False), args.activation)
    if mlp.input_dim != dataset.input_dim:  # the inputs alone named (the layer-wise check's first question)
        raise InputError(f"--model {args.model!r} takes {mlp.input_dim} inputs, but --data {args.data} has "
                         f"{dataset.input_dim}")
    check_model_matches_data(args.model, mlp.input_dim, mlp.output_dim, args.data, dataset.input_dim,
                             dataset.output_dim)
    check_writable("--out", Path(args.out))
    print(inputs_line)
    pruned, report = prune_network(mlp, dataset.train_inputs, wanted.n, target=finish.target or "dense",
                                   labels=dataset.train_labels, targets=dataset.train_targets, method=wanted.method,
                                   refit=finish.refit, ridge=finish.ridge, seed=wanted.seed, sharding=sharding,
                                   test_inputs=dataset.test_inputs, test_labels=dataset.test_labels,
                                   test_targets=dataset.test_targets)
    atomic_write(args.out, lambda temporary: torch.save(state_dict_of(pruned), temporary))
    for line in report.lines(wanted.method):
        print(line)
    if report.warning:
        print(f"warning: {report.warning}", file=sys.stderr)
    shape = ", ".join([str(mlp.input_dim), *map(str, pruned.widths), str(mlp.output_dim)])
    print(f"wrote {args.out} (loads into an nn.Sequential of Linear layers {shape})")


def command_compare(args) -> None:
    """The pruning methods on a plain nn.Sequential MLP state dict and a data set: the
    trade-off table (Markdown, CSV) and figure (sims.pruning.compare.run_compare)."""
    config = config_from_flags(CompareConfig, args, COMPARE_FIELDS)
    check_torch_file(config.model, "--model")  # damaged bytes named before unpickling
    target = config_from_flags(TargetConfig, args, ("target",)).target or "dense"
    inputs_line = user_inputs(args)
    data_config, dataset = dataset_from_args(args)
    print(inputs_line)
    run_compare(config, dataset, data_config.name, target=target)
