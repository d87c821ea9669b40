"""`python -m turboyolo ...` (what `torchrun -m turboyolo train ...` runs)."""
import sys

from turboyolo.cli import main

sys.exit(main())
