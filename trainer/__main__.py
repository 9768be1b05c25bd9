"""`python -m rubricc.trainer CONFIG.toml [--resume]`, the same as `rubricc train`; the form to
give torchrun: `torchrun --nproc_per_node 2 -m rubricc.trainer CONFIG.toml`."""

import sys

from rubricc.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
