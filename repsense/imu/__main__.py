import sys

from repsense.imu.cli import main

sys.exit(main())
