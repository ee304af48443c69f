-- Database-level settings in other units than the profile writes them.
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET work_mem = 65536', current_database());
  EXECUTE format('ALTER DATABASE %I SET statement_timeout = 30000', current_database());
  EXECUTE format('ALTER DATABASE %I SET effective_cache_size = ''3145728kB''', current_database());
  EXECUTE format('ALTER DATABASE %I SET enable_seqscan = false', current_database());
  EXECUTE format('ALTER DATABASE %I SET temp_buffers = 2048', current_database());
END $$;
