"""The one exception type for bad user input, shared by every layer.

The CLI turns it into a one-line message on stderr and exit code 2; anything else
that escapes is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Bad input from the user: a file, key, layer or value that is not what was expected.

    The message must name the offending file/key/layer and say what was expected.
    """
