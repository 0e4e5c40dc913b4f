"""A nomadtui opened after the incident: the rollout timeline on screen and its ctrl+e export tell
what happened before the app started, from the cluster's own records."""

from __future__ import annotations

import re

from nomadtui.harness.drive import driven, screen_text
from tests.helpers import http, roll_out

JOB = "httpsbackend-sni-1"


async def test_a_canary_that_failed_before_the_app_started_is_on_screen_and_exported(
    demo, make_app, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    # The incident happens first: the canary never turns healthy, the deployment fails at its
    # progress deadline and auto_revert writes version 0 back as version 2, which rolls out.
    roll_out(demo, "httpsbackend-tcp-sni-1-canary-fail.nomad")
    deployments = http.get(f"{demo.nomad_url}/v1/job/{JOB}/deployments").json()
    deployments.sort(key=lambda d: d["CreateIndex"], reverse=True)  # Nomad lists them by ID
    revert, failed = (d["ID"][:8] for d in deployments[:2])
    canary = deployments[1]["TaskGroups"][JOB]["PlacedCanaries"][0][:8]

    app = make_app()
    async with driven(app, demo, size=(160, 80)) as (w, pilot):
        await w.until(lambda: "deployment successful" in screen_text(app))
        text = screen_text(app)
        assert "No rollout observed yet" not in text
        # The failed deployment and its revert are one rollout; the seed deployment is the other.
        assert f"Rollout timeline (deployment {failed} failed → {revert} successful) 1/2 [ ]" in text
        # The newest steps that fit: the failure, the revert and its rollout.
        shown = [
            "deployment failed: Failed due to progress deadline - rolling back to job version 0",
            "auto-reverted to version 0 as version 2",
            f"deployment {revert} started for version 2",
            f"allocation {canary} stopped: alloc not needed due to job update",
            "deployment successful",
        ]
        positions = [text.find(line) for line in shown]
        assert -1 not in positions, shown[positions.index(-1)]
        assert positions == sorted(positions)

        await pilot.press("ctrl+e")
        await w.until(lambda: list(tmp_path.glob("nomadtui-timeline-*.md")))

        await pilot.press("left_square_bracket")  # the rollout before: the seed deployment
        await w.until(lambda: "2/2 [ ]" in screen_text(app))
        assert f"deployment {failed}" not in screen_text(app).split("Rollout timeline", 1)[1].splitlines()[0]
        await pilot.press("left_square_bracket")  # there is none older: it stays
        assert "2/2 [ ]" in screen_text(app)
        await pilot.press("right_square_bracket")
        await w.until(lambda: "1/2 [ ]" in screen_text(app))

    (exported,) = tmp_path.glob("nomadtui-timeline-*.md")
    markdown = exported.read_text()
    assert markdown.startswith(
        f"### Rollout of {JOB}, deployment {failed} (job version 1) → deployment {revert} (job version 2)"
    )
    events = [line.rsplit(" | ", 1)[1].removesuffix(" |") for line in markdown.splitlines() if line.startswith("| 20")]
    # The failed deployment, from the registration that started it, then the revert's.
    assert events[0].startswith("job registered: version 1 (image v1.0.0 → v1.0.5;")
    story = [
        f"deployment {failed} started for version 1, 1 canary",
        re.compile(rf"allocation {canary} placed on [0-9a-f]{{8}}, version 1, canary"),
        f"allocation {canary} unhealthy: Services not healthy by deadline: {JOB}",
        "deployment failed: Failed due to progress deadline - rolling back to job version 0",
        "auto-reverted to version 0 as version 2",
        f"deployment {revert} started for version 2",
        f"allocation {canary} stopped: alloc not needed due to job update",
        "deployment successful",
    ]
    rest = iter(events)
    for step in story:
        matches = step.fullmatch if isinstance(step, re.Pattern) else step.__eq__
        assert any(matches(e) for e in rest), f"{step} missing or out of order in:\n{markdown}"
    assert events[-1] == "deployment successful"
