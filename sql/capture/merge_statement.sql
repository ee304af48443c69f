-- Add one flush's aggregate of a statement to the capture file (see schema.sql). In the DO
-- UPDATE clause bare column names are the stored row's values, before any of them changes.
INSERT INTO statements (fingerprint, kind, text, reads, writes, calls, observed, total_s,
                        max_s, rows, sample_sql, sample_params, first_seen, last_seen)
VALUES (:fingerprint, :kind, :text, :reads, :writes, :calls, :observed, :total_s,
        :max_s, :rows, :sample_sql, :sample_params, :first_seen, :last_seen)
ON CONFLICT (fingerprint) DO UPDATE SET
    calls = calls + excluded.calls,
    observed = observed + excluded.observed,
    total_s = total_s + excluded.total_s,
    rows = rows + excluded.rows,
    sample_sql = CASE WHEN excluded.max_s > max_s THEN excluded.sample_sql ELSE sample_sql END,
    sample_params = CASE WHEN excluded.max_s > max_s THEN excluded.sample_params
                         ELSE sample_params END,
    max_s = max(max_s, excluded.max_s),
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
