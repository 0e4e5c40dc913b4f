"""Composing the demo cluster with the app, as the CLI does: the Pilot driver the tests and the
screenshot maker share (`drive`) and the screenshot maker (`screenshots`). The UI itself never
imports the demo: it reaches it over HTTP like any cluster."""
