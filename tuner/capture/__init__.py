"""Workload capture: record every statement an application runs, aggregated per statement
shape, into an SQLite capture file that `tuner workload show` (and later advise and check)
read. Engine-independent: the engine only names the SQL dialect.

Modules: normalize (SQL text -> Shape), recorder (in-memory aggregation and flushing),
store (the capture file: schema, merge, load), show (the report of `tuner workload show`),
server (`tuner capture --db`).

The hooks the runtime calls (wired in tuner.runtime.targets and BatchWriter; the engines'
capturing connections are tuner.engines.sqlite.capture and tuner.engines.postgres.capture):

    rec = recorder_for(capture, engine, sample=sample)   # once per connection or pool;
                                                         # None reads $TUNER_CAPTURE, False: off
    # per execution, when rec is not None: sampling is decided before timing
    if rec.every > 1 and rec.skip(): run it untimed
    started = time.perf_counter(); ...; rec.add(sql, params, seconds, rows)
    # per executemany() / BatchWriter batch of n rows:
    rec.record(sql, rows[0], seconds, changed, calls=n)
    # pool.close() / BatchWriter.close(): rec.flush_quietly(); the process's exit closes them all.

`tuner capture --db` (server.py) reads a server's own statistics (Engine.server_statements)
into the same file format.
"""

from tuner.capture.normalize import Shape, normalize
from tuner.capture.recorder import ENV, Recorder, recorder_for
from tuner.capture.store import Capture, CaptureError, Statement, load_capture

__all__ = ["ENV", "Capture", "CaptureError", "Recorder", "Shape", "Statement", "load_capture",
           "normalize", "recorder_for"]
