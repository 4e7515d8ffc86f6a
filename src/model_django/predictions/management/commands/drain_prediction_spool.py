"""Load the prediction spool (STACKGEN_PREDICTION_SPOOL) into the database, in batches.

Run once (every line written so far) or with --follow as a service (systemd restarts it). Lines
stay in the spool until their rows are committed; loading a line twice adds no second row.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, DataError, IntegrityError, transaction

from ....database import drop_connection, first_line
from ...models import PredictionLog
from ...recorder import fields_from_entry
from ...row_insert import insert_ignoring_duplicates
from ...spool import SpoolReader

log = logging.getLogger("stackgen.error")
ROWS_PER_INSERT = 500


class Command(BaseCommand):
    help = "Load the prediction spool into the prediction log table (--follow: keep doing so until stopped)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--follow", action="store_true", help="keep loading new lines until SIGTERM")
        parser.add_argument("--interval", type=float, default=0.25, help="seconds between scans (--follow)")

    def handle(self, *args: Any, follow: bool, interval: float, **options: Any) -> None:
        directory = settings.PREDICTION_LOG_SPOOL
        if not directory:
            raise CommandError("STACKGEN_PREDICTION_SPOOL is not set: there is no spool to drain")
        if not Path(directory).is_dir():
            raise CommandError(f"STACKGEN_PREDICTION_SPOOL={directory!r} is not a directory")
        reader = SpoolReader(Path(directory))
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        backoff = interval
        while True:
            try:
                loaded = self._drain(reader)
                backoff = interval
            except DatabaseError as exc:
                # The lines stay in the spool; nothing is lost while the database is away.
                drop_connection()
                log.error("prediction spool: database unavailable, retrying: %s", first_line(exc))
                if not follow:
                    raise CommandError(f"database unavailable: {first_line(exc)}") from None
                backoff = min(backoff * 2, 5.0)
                loaded = 0
            if loaded and options["verbosity"] > 1:
                self.stdout.write(f"loaded {loaded} records")
            if not follow or stopping:
                # One last pass after SIGTERM: lines written meanwhile are loaded too.
                if follow and loaded:
                    continue
                break
            if not loaded:
                time.sleep(backoff)
        if not follow:
            self.stdout.write("spool drained")

    def _drain(self, reader: SpoolReader) -> int:
        loaded = 0
        for batch in reader.pending():
            rows = []
            for entry in batch.entries:
                try:
                    rows.append((entry, fields_from_entry(entry)))
                except ValueError as exc:
                    reader.reject(json.dumps(entry).encode(), str(exc))
            try:
                with transaction.atomic():
                    insert_ignoring_duplicates([fields for _, fields in rows], per_statement=ROWS_PER_INSERT)
            except (IntegrityError, DataError):
                # One row the database refuses must not hold back every line after it.
                for entry, fields in rows:
                    self._insert_alone(reader, entry, PredictionLog(**fields))
            if batch.torn:
                log.error("prediction spool: %s ended in %d bytes of a cut-short line", batch.path.name, batch.torn)
            reader.done(batch)
            loaded += len(rows)
        return loaded

    def _insert_alone(self, reader: SpoolReader, entry: dict[str, Any], row: PredictionLog) -> None:
        try:
            with transaction.atomic():
                PredictionLog.objects.bulk_create([row], ignore_conflicts=True)
            return
        except (IntegrityError, DataError) as exc:
            if row.caller_id is None:
                reader.reject(json.dumps(entry).encode(), f"the database refused {row.request_id}: {first_line(exc)}")
                return
        # The caller was deleted between the answer and the load: keep the record, without its caller.
        log.error("prediction spool: caller %s of %s is gone; logged without it", row.caller_id, row.request_id)
        row.caller_id = None
        self._insert_alone(reader, entry, row)
