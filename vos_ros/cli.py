"""The `vos-ros` command (also `python -m vos_ros`): segment, eval, bench, node, demo.

`node` and `demo` hand everything after their name, unparsed, to their own entry points
(ROS arguments such as `--ros-args -p x:=1` included); they are imported only then, so the
other subcommands work without ROS.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from . import __version__

PASSTHROUGH = {
    "node": "run the ROS 2 segmentation node (arguments go to the node, e.g. --ros-args ...)",
    "demo": "run the end-to-end demo (arguments go to the demo)",
}


def _dispatch(command: str, rest: list[str]) -> int:
    if command == "node":
        from vos_ros.ros import shutdown

        shutdown.install()  # before the heavy imports (see vos_ros.ros.shutdown)
        from vos_ros.ros.node import main
    else:
        from vos_ros.tools.demo import main
    return main(rest)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the tool subcommands (node/demo are listed but dispatched before parsing)."""
    from .tools import bench, evaluate, segment, train

    parser = argparse.ArgumentParser(prog="vos-ros", description="Semi-supervised video object "
                                     "segmentation: offline tools and the ROS 2 node.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tools: dict[str, tuple[ModuleType, str]] = {
        "segment": (segment, "segment a video or a folder of frames from first-frame masks/boxes"),
        "eval": (evaluate, "J&F and fps on a DAVIS-layout dataset"),
        "bench": (bench, "per-stage latency and fps for several object counts"),
        "train": (train, "train the learned decoder and prompt encoder on DAVIS-layout videos"),
    }
    for name, (module, help_text) in tools.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    for name, help_text in PASSTHROUGH.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; the exit status (2 for usage errors, 1 for bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in PASSTHROUGH:
        return _dispatch(args_list[0], args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, OSError) as err:
        print(f"vos-ros {args.command}: error: {err}", file=sys.stderr)
        return 1
