"""`sslcsim hw show X.yaml`: a hardware config with every default resolved."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hw", help="inspect hardware configs")
    hw_sub = p.add_subparsers(dest="hw_command", required=True)
    show = hw_sub.add_parser("show", help="print a hardware config with every default resolved (YAML)")
    show.add_argument("config", help="hardware YAML (hwconfigs/*.yaml)")
    show.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import yaml

    from simulator.config import load_hw

    hw = load_hw(args.config)
    print(f"# {args.config}, every default resolved (docs/hardware-config.md)")
    print(yaml.safe_dump(hw.model_dump(mode="json"), sort_keys=False), end="")
    return 0
