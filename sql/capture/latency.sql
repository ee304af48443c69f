SELECT fingerprint, bucket, calls FROM latency ORDER BY fingerprint, bucket
