"""Unpaired picture translation at run time (day ↔ night, summer ↔ winter): see `runtime`."""
