"""One module per subcommand; each exposes `register(subparsers)`.

`COMMANDS` is the list the CLI loads. A module listed here that is not present yet
(its issue has not landed) is skipped, so layers can land independently.
"""

COMMANDS = [
    "simulate",
    "reproduce",
    "compress",
    "evaluate",
    "finetune",
    "run",
    "sweep",
    "plot",
]
