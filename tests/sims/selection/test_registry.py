"""The registry: which methods run on every backend, and the checks of a request (one place)."""

import pytest

from sims.foundations.errors import InputError
from sims.selection.registry import EXACT_METHODS, METHODS, check_request, method_options


def test_exact_methods_are_the_greedy_methods_that_only_send_requests():
    assert EXACT_METHODS == ("gfs", "gfs-norep", "herding", "fw", "fcfw", "greedy-opt", "stochastic-gfs")
    assert all(not METHODS[name].any_backend for name in ("backward", "greedi", "stochastic-greedy-opt"))
    assert METHODS["random"].any_backend and not METHODS["random"].greedy


def test_defaults_are_filled_in_from_the_signature():
    assert check_request(3, "fcfw", {}, None) == {"tol": 1e-12} == method_options("fcfw")
    assert check_request(3, "stochastic-gfs", {"eps": 0.1}, 2) == {"eps": 0.1}


@pytest.mark.parametrize("request_, message", [
    ((3, "nope", {}, None), "unknown method 'nope'"),
    ((3, "gfs", {"eps": 0.1}, None), "does not take option"),
    ((0, "gfs", {}, None), "n must be a positive integer"),
    ((True, "gfs", {}, None), "n must be a positive integer"),
    ((3, "gfs", {}, 1.5), "seed must be an integer"),
])
def test_bad_requests_name_the_parameter(request_, message):
    with pytest.raises(InputError, match=message):
        check_request(*request_)


def test_methods_that_read_the_array_are_refused_off_memory():
    with pytest.raises(InputError, match="'backward' cannot run on sharded features"):
        check_request(3, "backward", {}, None, in_memory=False)
    assert check_request(3, "greedy-opt", {}, None, in_memory=False) == {"tol": 1e-12}
