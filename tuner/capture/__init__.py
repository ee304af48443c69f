"""Workload capture: record every statement an application runs, aggregated per statement
shape, into an SQLite capture file that `tuner workload show` (and later advise and check)
read. Engine-independent: the engine only names the SQL dialect.

Modules: normalize (SQL text -> Shape), recorder (in-memory aggregation and flushing),
store (the capture file: schema, merge, load), show (the report of `tuner workload show`).

The hook API for the runtime (tuner.connect, ConnectionPool, BatchWriter), wired in later:

    rec = recorder_for(capture, engine, sample=sample)   # once per connection or pool;
                                                         # capture=None reads $TUNER_CAPTURE
    # per execute(), when rec is not None:
    started = time.perf_counter()
    cursor = execute(sql, params)
    rec.record(sql, params, time.perf_counter() - started, cursor.rowcount)
    # per executemany() / BatchWriter batch of n rows:
    rec.record(sql, rows[0], seconds, changed, calls=n)
    # pool.close() / BatchWriter.close(): rec.flush(); the process's exit closes them all.
"""

from tuner.capture.normalize import Shape, normalize
from tuner.capture.recorder import ENV, Recorder, recorder_for
from tuner.capture.store import Capture, CaptureError, Statement, load_capture

__all__ = ["ENV", "Capture", "CaptureError", "Recorder", "Shape", "Statement", "load_capture",
           "normalize", "recorder_for"]
