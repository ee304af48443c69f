-- Planner statistics written by ANALYZE: "nrow avg-rows-per-key-prefix ..." per index.
SELECT tbl, idx, stat FROM sqlite_stat1
