"""``python -m shoal_sim``: run the simulator's command line."""

from shoal_sim.cli import main

main()
