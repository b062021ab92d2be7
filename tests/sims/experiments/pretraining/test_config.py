"""sims.experiments.pretraining.config: the composed config, its record (the keys, hash and
config.json of before the nesting), its refusals, and the plan of each set-up."""

from __future__ import annotations

import math

import pytest

from sims.experiments import pretraining
from sims.experiments.pretraining import PretrainingConfig, quick, setup_plan, setup_seeds
from sims.foundations.composed import flat_keys, from_flat_record, with_keys
from sims.foundations.errors import InputError

from tests.sims.experiments.committed import check_stored_as_before

#: the config's keys before the nesting (its flat fields then), in their order then
KEYS = ("setups", "seeds", "n", "coarse_points", "teacher_sizes", "input_dim", "teacher_width", "sum_eps", "ntk_width",
        "ntk_iterations", "ntk_lr", "ntk_eps", "lambda_max_points", "mf_width", "mf_iterations", "mf_lr", "mf_eps",
        "rf_width", "rf_iterations", "rf_lr", "rf_eps", "p7_sizes", "p7_n", "p7_width", "p7_second_scale",
        "p7_iterations", "p7_lr", "p7_eps", "p7_seeds", "identity_draws", "mnist5k_sizes", "mnist_sizes", "mnist_width",
        "mnist_iterations", "mnist_lr", "mnist_store_every", "mnist_eps", "taus", "sgd_batch_size", "sgd_epochs",
        "sgd_lr", "mnist_seeds")


def test_the_record_has_the_keys_of_before_and_is_stored_as_before():
    assert sorted(flat_keys(PretrainingConfig)) == sorted(KEYS)
    check_stored_as_before("pretraining")


def test_pretraining_config_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown setup"):
        PretrainingConfig(setups=("ntk-mnist",))
    with pytest.raises(ValueError, match="seeds"):
        PretrainingConfig(seeds=())
    with pytest.raises(ValueError, match="mf_eps"):
        PretrainingConfig(mf_eps=0.1)
    with pytest.raises(ValueError, match="^sgd_batch_size must be a positive integer"):
        from_flat_record(PretrainingConfig, {"sgd_batch_size": 0})
    with pytest.raises(ValueError, match="^sgd_epochs must be a positive integer"):
        from_flat_record(PretrainingConfig, {"sgd_epochs": 0})
    with pytest.raises(ValueError, match="^ntk_width must be a positive integer"):
        from_flat_record(PretrainingConfig, {"ntk_width": 0})
    with pytest.raises(InputError, match="unknown config key"):
        from_flat_record(PretrainingConfig, {"ntk_depth": 2})
    with pytest.raises(ValueError, match="identity_draws"):
        PretrainingConfig(identity_draws=1)
    default = PretrainingConfig()
    assert "mf-mnist" not in default.setups and "rf-teacher" in default.setups
    sizes = default.teacher_sizes
    assert math.log10(max(sizes) / min(sizes)) >= 2.5 and len(default.seeds) >= 8  # issue 10: range and power
    # issue 21: P7's informative design: >= 4 sizes over >= 1.5 decades, >= 3 seeds, n > N
    assert "mf-teacher-p7" in default.setups and len(default.p7_sizes) >= 4 and default.p7_seeds >= 3
    assert math.log10(max(default.p7_sizes) / min(default.p7_sizes)) >= 1.5 and default.p7_n > default.p7_network.width


def test_each_set_up_plans_its_own_data_network_and_training():
    config = quick()
    ntk = setup_plan(config, "ntk-teacher")
    assert (ntk.network.width, ntk.network.scaling, ntk.second_layer) == (100, "ntk", "sign")
    assert (ntk.train.mode, ntk.train.loss_form, ntk.train.iterations, ntk.train.batch_size) == ("first", "sum", 200, None)
    assert ntk.data.input_distribution == "sphere" and ntk.data.test_fraction == 0.0 and ntk.sum_eps == config.sum_eps
    rf = setup_plan(config, "rf-teacher")
    assert (rf.train.mode, rf.second_layer, rf.network.scaling) == ("second", "gaussian", "mean-field")
    p7 = setup_plan(config, "mf-teacher-p7")
    assert (p7.n, p7.second_scale, p7.sum_eps, p7.sizes, p7.network.width) == (500, 0.3, (), (30, 100, 300), 60)
    sgd = setup_plan(config, "sgd-mnist5k")
    assert (sgd.unit, sgd.train.batch_size, sgd.train.iterations, sgd.train.lr) == ("epoch", 100, 6, 0.2)
    assert sgd.network.dtype == "float32" and sgd.data.name == "mnist5k" and sgd.store_every == 1
    mnist = setup_plan(with_keys(config, setups=("mf-mnist",)), "mf-mnist")
    assert (mnist.data.name, mnist.sizes, mnist.store_every, mnist.unit) == ("mnist", config.mnist_sizes, 10, "step")
    assert setup_seeds(with_keys(config, seeds=(3, 4, 5), mnist_seeds=2), "mf-mnist5k") == (3, 4)
    assert setup_seeds(with_keys(config, seeds=(3, 4, 5), p7_seeds=1), "mf-teacher-p7") == (3,)


def test_the_learning_rate_of_the_ntk_set_up_is_the_mean_form_step():
    assert pretraining.dense_learning_rate("ntk-teacher", 1.0, 200) == 1.0 / 200
    assert pretraining.dense_learning_rate("mf-teacher", 1.0, 200) == 1.0
