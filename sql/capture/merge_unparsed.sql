INSERT INTO unparsed (fingerprint, error, sample_sql) VALUES (?, ?, ?)
ON CONFLICT (fingerprint) DO NOTHING
