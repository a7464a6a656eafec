"""Where a study lives: its Optuna study and its budget store, opened and closed together.

Optuna creates its tables (and stamps their version) check-then-create, so workers that open a
new storage at once can collide: the loser retries, and finds the tables made. The budget store
serialises its own creation (:mod:`lowcarb.tuning._budget_sql`).
"""

from __future__ import annotations

import random
import time
from typing import Any, NoReturn

from lowcarb.errors import LowcarbError, MissingDependencyError, UsageError
from lowcarb.tuning._budget import BudgetStore, MemoryBudgetStore
from lowcarb.tuning._budget_sql import SqlBudgetStore
from lowcarb.tuning._study_config import StudyConfig

__all__ = ["close_study", "open_budget_store", "open_study", "optuna_module"]


def optuna_module() -> Any:
    """Optuna, imported on first use (a one-line error names the extra when missing)."""
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("optuna", "tune") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_study(config: StudyConfig, *, create: bool = True) -> Any:
    """The Optuna study, created or loaded; raises a one-line error for a bad storage."""
    optuna = optuna_module()
    sampler = (
        optuna.samplers.TPESampler(seed=config.seed)
        if len(config.objectives) == 1
        else optuna.samplers.NSGAIISampler(seed=config.seed)
    )
    for attempt in range(_OPEN_TRIES):
        try:
            return _open_or_create(optuna, config, sampler, create=create)
        except (LowcarbError, KeyboardInterrupt):
            raise
        except Exception as exc:
            if attempt + 1 < _OPEN_TRIES and _creation_race(exc):
                # Optuna creates its tables (and stamps their version) check-then-create:
                # workers opening a new storage at once collide; the loser finds them made.
                time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)  # noqa: S311
                continue
            _raise_open_error(config, exc)
    raise AssertionError("unreachable")  # pragma: no cover


_OPEN_TRIES = 5


def _open_or_create(optuna: Any, config: StudyConfig, sampler: Any, *, create: bool) -> Any:
    storage = None if config.storage is None else optuna.storages.RDBStorage(config.storage)
    if create:
        return optuna.create_study(
            study_name=config.study_name,
            storage=storage,
            directions=config.directions,
            sampler=sampler,
            load_if_exists=True,
        )
    return optuna.load_study(study_name=config.study_name, storage=storage, sampler=sampler)


def _creation_race(exc: BaseException) -> bool:
    """Whether ``exc`` is another process creating the same tables or version row first."""
    text = str(exc).lower()
    return type(exc).__name__ in ("OperationalError", "IntegrityError", "ProgrammingError") and (
        "already exists" in text or "unique constraint" in text or "duplicate key" in text
    )


def _raise_open_error(config: StudyConfig, exc: BaseException) -> NoReturn:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise UsageError(
        f"cannot open study {config.study_name!r} in storage {config.storage!r}: {first}; "
        "check --storage (an SQLAlchemy URL such as sqlite:///study.db) and --study"
    ) from None


def close_study(study: Any, store: BudgetStore) -> None:
    """Release the database connections of a study's storage and of its budget store."""
    if isinstance(store, SqlBudgetStore):
        store.close()
    storage = getattr(study, "_storage", None)  # Optuna keeps its RDBStorage there
    for candidate in (storage, getattr(storage, "_backend", None)):
        engine = getattr(candidate, "engine", None)
        if engine is not None:
            engine.dispose()


def open_budget_store(config: StudyConfig) -> BudgetStore:
    """The budget store in the study's storage (in memory for an in-memory study)."""
    if config.storage is None:
        return MemoryBudgetStore()
    return SqlBudgetStore(config.storage)
