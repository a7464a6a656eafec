"""The message for a missing Airflow: the extra to install, never a bare ImportError."""

from __future__ import annotations

from lowcarb.errors import MissingDependencyError

__all__ = ["missing_airflow"]


def missing_airflow(exc: ModuleNotFoundError) -> Exception:
    """What to raise when importing Airflow failed with ``exc``.

    Airflow itself missing is a :class:`MissingDependencyError` naming ``lowcarb[airflow]``; any
    other missing module (a broken Airflow install) is re-raised as it is, not disguised.
    """
    if (exc.name or "").partition(".")[0] == "airflow":
        return MissingDependencyError("apache-airflow", "airflow")
    return exc
