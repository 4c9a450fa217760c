"""Exception types of the library.

Each names the thing that went wrong and the fix in its message, so that a failed run's trace tells a
researcher what to do. They subclass the builtin that a caller would otherwise catch.
"""


class WeightsNotFoundError(FileNotFoundError):
    """A weights file is missing or unreadable; the message says which file and where to put it."""


class UnknownLayerError(ValueError):
    """A layer name that the net does not have; the message lists the valid names."""


class ImageReadError(ValueError):
    """An image file that cannot be read or decoded; the message names the file and the reason."""


class DivergenceError(FloatingPointError):
    """A loss became NaN or infinite; the message names the step, the term and what was kept."""


def printable(text) -> str:
    """``text`` as a terminal can always print it: characters that are not UTF-8 (bytes of a command-line
    argument, surrogate-escaped by Python) written as ``\\udc80`` escapes instead of failing the print."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def safe_streams() -> None:
    """Let stdout and stderr print any text: characters that are not UTF-8 (a command-line argument's bytes, as
    argparse quotes them in its own messages) come out as ``\\udc80`` escapes instead of a UnicodeEncodeError."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to print to anyway
                pass
