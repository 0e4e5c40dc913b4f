"""The Textual shell: screens and widgets over the UI-free core (settings, model, nomad/, fabio)."""
