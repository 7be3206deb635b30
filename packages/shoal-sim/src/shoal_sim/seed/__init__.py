"""Describing a world in YAML (or the same document as JSON over ``/_sim/seed``) and
building it: orgs, users, teams, repositories (hand-written or generated in bulk), branch
protection, Apps and their installations.
"""

from shoal_sim.seed.apply import SeedResult, apply_seed, load_seed_file
from shoal_sim.seed.schema import SeedDocument

__all__ = ["SeedDocument", "SeedResult", "apply_seed", "load_seed_file"]
