"""Conformance suites: what every online store, artifact store and catalog must do.

A third-party backend runs the same checks as weekend's own, like scikit-learn's
``parametrize_with_checks``. Each suite is a list of :class:`Check` ``(name, run)``; ``run``
takes a fresh, empty subject and raises :class:`AssertionError` when the backend breaks the
contract (or :class:`CheckSkipped` when a check does not apply):

- :func:`online_store_checks`: ``run(store)`` with a new, empty
  :class:`~weekend.features.online.OnlineStore` (thread-safe, reconnecting after a fork);
- :func:`artifact_store_checks`: ``run(store)`` with an
  :class:`~weekend.artifacts.ArtifactStore` on a new, empty root of the backend;
- :func:`catalog_checks`: ``run(target)`` with a :class:`CatalogTarget` naming a new, empty
  database (and, optionally, how to make it read-only);
- :func:`executor_checks`: ``run(subject)`` with an :class:`ExecutorSubject`: the pipelines
  service of an empty project, the executor under test and an empty folder;
- :func:`flavor_checks`: ``run(subject)`` with a :class:`FlavorSubject`: a fitted model, rows
  it predicts on, an empty folder and the registry of an empty project
  (:mod:`weekend.testing.flavors`).

With pytest::

    from weekend.testing import online_store_checks, parametrize_with_checks

    @parametrize_with_checks(online_store_checks())
    def test_my_store(check, tmp_path):
        with MyStore(tmp_path / "db") as store:
            check.run(store)

Without it: ``run_checks(online_store_checks(), make_store, close=lambda s: s.close())``.
pytest is not a dependency of weekend: :func:`parametrize_with_checks` imports it when called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from weekend.testing import _artifact_checks as artifacts
from weekend.testing import _catalog_checks as catalogs
from weekend.testing import _executor_checks as executors
from weekend.testing import _online_checks as online
from weekend.testing import _online_input_checks as online_input
from weekend.testing._catalog_checks import CatalogTarget
from weekend.testing._checks import Check, CheckSkipped, raises, run_checks, suite
from weekend.testing._executor_checks import ExecutorSubject
from weekend.testing.flavors import FlavorSubject, flavor_checks

F = TypeVar("F", bound=Callable[..., Any])


def online_store_checks() -> list[Check[Any]]:
    """The checks every online store passes; each takes a fresh, empty store."""
    return suite(
        online.check_round_trip_of_every_value_type,
        online.check_composite_keys_that_collide_under_concatenation_stay_apart,
        online.check_int_and_str_keys_differ,
        online.check_entity_rows_may_be_an_arrow_table_and_unsigned_ints_match,
        online.check_missing_entities_and_features_read_as_none,
        online.check_read_keeps_order_and_duplicates,
        online.check_many_entities_cross_batch_boundaries,
        online.check_a_pandas_frame_can_be_written_and_empty_tables_write_nothing,
        online.check_newest_row_of_a_batch_wins,
        online.check_older_records_never_replace_newer_ones_across_batches,
        online.check_concurrent_threads_keep_the_newest,
        online.check_concurrent_processes_keep_the_newest,
        online.check_ttl_edge_is_inclusive_and_the_future_is_invisible,
        online.check_default_now_is_the_current_time,
        online_input.check_delete_view_removes_only_that_view,
        online_input.check_a_closed_store_reconnects_when_used_again,
        online_input.check_results_convert_and_combine,
        online_input.check_a_stream_keeps_the_newest_record_across_its_tables,
        online_input.check_a_bad_table_in_a_stream_is_named_and_a_rerun_completes_a_cut_stream,
        online_input.check_bad_tables_are_rejected_with_the_column_named,
        online_input.check_bad_reads_are_rejected_with_the_row_named,
    )


def artifact_store_checks() -> list[Check[Any]]:
    """The checks every artifact store backend passes; each takes a store on a fresh root."""
    return suite(
        artifacts.check_the_same_bytes_are_stored_once,
        artifacts.check_an_empty_blob,
        artifacts.check_put_file_streams_a_file_larger_than_one_chunk,
        artifacts.check_one_changed_byte_fails_every_read,
        artifacts.check_truncated_and_missing_blobs,
        artifacts.check_keys_must_be_sha256_digests,
        artifacts.check_a_staged_file_is_stored_only_when_committed,
        artifacts.check_a_missing_source_leaves_nothing_behind,
        artifacts.check_blobs_are_listed_with_size_and_time,
        artifacts.check_old_leftovers_under_tmp_are_swept_and_fresh_ones_kept,
        artifacts.check_a_blob_is_removed_only_when_older_than_asked,
        artifacts.check_the_backend_verbs,
    )


def catalog_checks() -> list[Check[Any]]:
    """The checks every catalog database passes; each takes a :class:`CatalogTarget`."""
    return suite(
        catalogs.check_a_new_catalog_is_at_head_with_every_table,
        catalogs.check_reopening_migrates_nothing_and_keeps_data,
        catalogs.check_a_catalog_opened_without_migration_is_empty_until_upgraded,
        catalogs.check_a_catalog_from_a_newer_weekend_is_refused,
        catalogs.check_write_transactions_roll_back_on_error,
        catalogs.check_insert_ignore_skips_existing_keys,
        catalogs.check_a_reader_sees_the_last_committed_state,
        catalogs.check_concurrent_writers_all_land,
        catalogs.check_the_feature_store_tables_hold_versions,
        catalogs.check_the_blobs_rows_refer_to_are_all_found,
        catalogs.check_a_read_only_catalog_opens_and_reads,
    )


def executor_checks() -> list[Check[Any]]:
    """The checks every pipeline executor passes; each takes an :class:`ExecutorSubject`."""
    return suite(
        executors.check_data_flows_between_steps_and_is_recorded,
        executors.check_a_second_run_hits_the_cache,
        executors.check_a_failing_step_is_retried_then_fails_the_run,
        executors.check_a_step_that_raises_once_succeeds_on_retry,
        executors.check_a_step_that_times_out_is_retried,
        executors.check_a_worker_that_dies_is_retried,
        executors.check_a_rerun_resumes_from_the_cache,
        executors.check_an_output_of_no_safe_kind_fails_without_retries,
    )


def parametrize_with_checks(checks: Sequence[Check[Any]]) -> Callable[[F], F]:
    """A pytest decorator: the test runs once per check (its id is the check's name) and
    receives it as the ``check`` argument; :class:`CheckSkipped` becomes a pytest skip."""
    import functools

    import pytest

    def decorate(test: F) -> F:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return test(*args, **kwargs)
            except CheckSkipped as exc:
                pytest.skip(str(exc))

        marked: F = pytest.mark.parametrize("check", list(checks), ids=[c.name for c in checks])(
            run
        )
        return marked

    return decorate


__all__ = [
    "CatalogTarget",
    "Check",
    "CheckSkipped",
    "ExecutorSubject",
    "FlavorSubject",
    "artifact_store_checks",
    "catalog_checks",
    "executor_checks",
    "flavor_checks",
    "online_store_checks",
    "parametrize_with_checks",
    "raises",
    "run_checks",
]
