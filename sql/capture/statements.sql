SELECT s.fingerprint, s.kind, s.text, s.reads, s.writes, s.calls, s.observed, s.total_s,
       s.max_s, s.rows, s.sample_sql, s.sample_params, s.first_seen, s.last_seen, u.error
FROM statements AS s LEFT JOIN unparsed AS u USING (fingerprint)
ORDER BY s.total_s DESC, s.fingerprint
