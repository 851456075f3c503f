"""repsense: watches a person exercise, recognises the exercise, counts and times every repetition."""

import os

# NOTE: the engine's small matrix products (the generic counter's principal direction) run
# faster on one BLAS thread: 0.38 against 0.57 ms a frame measured on the sample recording with
# OpenBLAS's default threads on 2 cores, far worse (25 ms) when the cores are busy. Set before
# numpy is imported by any repsense module; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
