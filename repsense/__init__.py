"""repsense: watches a person exercise, recognises the exercise, counts and times every repetition."""

__version__ = "0.1.0"
