"""The embedded demo cluster: Nomad's and Fabio's HTTP APIs and Nomad's rollout rules."""
