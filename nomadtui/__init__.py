"""nomadtui: a live terminal UI for Nomad rollouts behind Fabio."""

__version__ = "0.1.0"
