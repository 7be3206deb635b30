"""``python -m shoal.sim``: run the simulator's command line."""

from shoal.sim.cli import main

main()
