"""Talking to Nomad: live views through blocking queries (`watch`, `live`), state-changing
commands through python-nomad (`actions`), and the errors both turn into plain sentences."""
