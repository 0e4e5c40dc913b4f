"""The rollout timeline on screen, and ctrl+e writing it as Markdown for incident notes."""

from __future__ import annotations

from nomadtui.harness.drive import driven, screen_text


async def test_the_timeline_shows_the_rollout_and_exports_it(demo, make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with driven(app, demo, size=(120, 80)) as (w, pilot):
        text = screen_text(app)  # the seed deployment, from the cluster's records
        assert "No rollout observed yet" not in text and "Rollout timeline (deployment" in text
        assert "deployment successful" in text
        await w.run("httpsbackend-tcp-sni-1-rolling-update.nomad")
        await w.until_deployment("successful")
        text = screen_text(app)
        assert "Rollout timeline (deployment" in text and "deployment successful" in text
        await pilot.press("ctrl+e")
        await w.until(lambda: list(tmp_path.glob("nomadtui-timeline-*.md")))
        (exported,) = tmp_path.glob("nomadtui-timeline-*.md")
        markdown = exported.read_text()
        assert markdown.startswith("### Rollout of httpsbackend-sni-1, deployment")
        assert "| time | +since start | step took | event |" in markdown
        rows = [line for line in markdown.splitlines() if line.startswith("| 20")]
        assert len(rows) >= 10
        assert "healthy" in markdown and "deployment" in markdown and "successful" in markdown
