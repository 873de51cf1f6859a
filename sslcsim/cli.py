"""`sslcsim` entry point: builds the subcommand parser and maps bad input to exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from sslcsim import __version__
from sslcsim.commands import COMMANDS
from workloads.errors import InputError
from workloads.limits import check_seed


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"sslcsim: error: {self.prog}: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="sslcsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sslcsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"sslcsim.commands.{name}").register(sub)
    return parser


def _one_line_error(message: str) -> int:
    """The message on one line of stderr (a newline in a path would split it), exit code 2."""
    sys.stderr.write("sslcsim: error: " + message.replace("\r", "\\r").replace("\n", "\\n") + "\n")
    return 2


def check_shared_flags(args: argparse.Namespace) -> None:
    """A flag several commands share has one range in all of them (workloads.limits), checked
    before any command starts: `--seed` of simulate, generate, reproduce, attention, compress ..."""
    seed = getattr(args, "seed", None)
    if seed is not None:
        check_seed(seed)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for provenance
    try:
        check_shared_flags(args)
        return int(args.func(args) or 0)
    except InputError as exc:
        return _one_line_error(str(exc))
    except OSError as exc:  # a user's path the file system refuses (too long, no permission, a loop)
        return _one_line_error(f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("sslcsim: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
