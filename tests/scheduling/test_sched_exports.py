"""The public surface of lowcarb.scheduling is exactly its ``__all__``."""

from __future__ import annotations

import lowcarb.scheduling as scheduling


def test_all_names_resolve_and_nothing_else_is_public() -> None:
    for name in scheduling.__all__:
        assert hasattr(scheduling, name), name
    public = {n for n in vars(scheduling) if not n.startswith("_")}
    assert public == set(scheduling.__all__)
    assert {"Plan", "JobSpec", "build_job_spec", "plan_job", "plan_spatial"} <= public
