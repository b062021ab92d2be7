"""theory.arrays: array-likes and CPU torch tensors become float64 arrays; a non-numeric input or a
NaN or infinite entry is refused with the parameter's name."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.arrays import as_float_array


def test_array_likes_become_float64_arrays_of_the_same_shape():
    arr = as_float_array([[1, 2], [3, 4]], "x")
    assert arr.dtype == np.float64 and arr.shape == (2, 2) and arr.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert as_float_array(np.float32(0.5), "x").shape == ()
    assert as_float_array(np.arange(3, dtype=np.int64), "x").dtype == np.float64


def test_a_torch_tensor_with_a_gradient_is_converted():
    import torch  # a dependency of the project: its absence is a failure, not a skip

    tensor = torch.tensor([[0.25, -1.0]], dtype=torch.float32, requires_grad=True)
    arr = as_float_array(tensor, "features")
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64 and arr.tolist() == [[0.25, -1.0]]


@pytest.mark.parametrize("bad, match", [([1.0, math.nan], "weights contains NaN or infinite values"),
                                        ([math.inf], "weights contains NaN"),
                                        ([["a"]], "weights must be a numeric array, got list"),
                                        (object(), "weights must be a numeric array, got object")])
def test_bad_input_names_the_parameter(bad, match):
    with pytest.raises(ValueError, match=match):
        as_float_array(bad, "weights")
