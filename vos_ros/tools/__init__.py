"""Command-line tools of vos_ros (`vos-ros segment | eval | bench`): ROS-free, engine only.

Each tool module offers `add_arguments(parser)` and `run(args) -> int`; `vos_ros.cli`
assembles them into one command.
"""
