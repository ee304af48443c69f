CREATE TABLE measurements (id bigint NOT NULL, taken date NOT NULL, value numeric)
  PARTITION BY RANGE (taken);
CREATE TABLE measurements_2025 PARTITION OF measurements
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX measurements_id ON measurements (id);
