INSERT INTO latency (fingerprint, bucket, calls) VALUES (?, ?, ?)
ON CONFLICT (fingerprint, bucket) DO UPDATE SET calls = calls + excluded.calls
