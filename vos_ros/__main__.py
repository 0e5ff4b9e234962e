"""`python -m vos_ros ...` is the `vos-ros` command."""
from vos_ros.cli import main

raise SystemExit(main())
