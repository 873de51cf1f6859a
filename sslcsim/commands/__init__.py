"""One module per subcommand; each exposes `register(subparsers)`.

`COMMANDS` is the list the CLI loads; a module imports what its command needs inside
its handler, so every command (and --help) starts without the others' dependencies.
"""

COMMANDS = [
    "simulate",
    "generate",
    "reproduce",
    "compress",
    "evaluate",
    "finetune",
    "run",
    "sweep",
    "search",
    "plot",
    "hw",
    "tech",
    "attention",
    "frontier",
]
