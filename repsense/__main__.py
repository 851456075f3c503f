import sys

from repsense.cli import main

sys.exit(main())
