import sys

from repsense.cli.imu import main

sys.exit(main())
