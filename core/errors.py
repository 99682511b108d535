"""One exception type for every input problem a user can cause.

Operators and command lines catch `InputError` and show its message as is, so the
message must say what is wrong and what to do; anything else is a bug.
"""


class InputError(ValueError):
    """Bad user input (file, mesh, option): the message is shown to the user verbatim."""
