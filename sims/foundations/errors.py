"""The error types of the simulators that the command line reports as one line with exit status 2.

``InputError`` is raised where input from a user is checked (a flag, a config field, a file
named by the user, a results folder). It subclasses ``ValueError``, so library callers that
catch ``ValueError`` keep working. Any other ``ValueError`` reaching the command line is a bug
in the toolkit and is shown with its traceback."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Input from a user was refused; the message is one line that names the parameter or file
    and says what is accepted."""
