"""`sslcsim hw show X.yaml`: a hardware config with every default resolved, and the per-action
energies, static power and areas its technology gives (with their sources and overrides)."""

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

    from simulator.energy.costs import resolve

    hw = load_hw(args.config)
    costs = resolve(hw)
    print(f"# {args.config}, every default resolved (docs/hardware-config.md)")
    print(yaml.safe_dump(hw.model_dump(mode="json"), sort_keys=False), end="")
    if costs is not None:  # as comments, so that the output stays a config that loads as this one
        print("# resolved costs: pJ per action (buffers, DRAM: per bit), mW, mm^2 (simulator/energy/costs.py)")
        text = yaml.safe_dump({"resolved_costs": costs.as_dict()}, sort_keys=False, width=1000)
        print("".join(f"# {line}\n" for line in text.splitlines()), end="")
    return 0
