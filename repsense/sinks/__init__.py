"""Sinks: where events go. The report and its JSON, the annotated video, the plot, speech (and
MQTT and the history store). Nothing else serialises events."""
