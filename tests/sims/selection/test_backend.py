"""Sessions batch requests into one message; answers of several backends add up in order."""

import numpy as np

from sims.selection.backend import Local, Problem, Session, full_weights, sum_answers


class Recorder:
    """A group that records each message (a batch of requests) and answers with the names."""

    def __init__(self):
        self.messages = []

    def call(self, requests):
        self.messages.append([name for name, *_ in requests])
        return [name for name, *_ in requests]


def test_a_deferred_request_travels_with_the_next_message():
    group = Recorder()
    session = Session(group)
    assert session.ask(("a",), ("b", 1)) == ["a", "b"]
    session.defer(("commit", True))
    assert session.ask(("c",)) == ["c"]  # the deferred answer is not returned
    assert group.messages == [["a", "b"], ["commit", "c"]] and session.messages == 2


def test_answers_add_up_in_order():
    parts = [(np.array([1.0, 2.0]), 3.0), (np.array([0.5, 0.5]), 1.0)]
    total = sum_answers(parts)
    np.testing.assert_array_equal(total[0], [1.5, 2.5])
    assert total[1] == 4.0 and sum_answers([None, None]) is None


def test_local_calls_the_backend_and_problems_record_weights():
    class Backend:
        def twice(self, x):
            return 2 * x

    assert Local(Backend()).call([("twice", 3), ("twice", 4)]) == [6, 8]
    problem = Problem(Session(Recorder()), m=3, width=4, eps=1e-16, record_steps=frozenset({2}))
    problem.record(1, [0], np.ones(1))
    problem.record(2, [3, 1], np.array([0.25, 0.75]))
    assert list(problem.recorded) == [2]
    np.testing.assert_array_equal(problem.recorded[2], full_weights(4, [3, 1], np.array([0.25, 0.75])))
    np.testing.assert_array_equal(problem.recorded[2], [0, 0.75, 0, 0.25])
