-- Phase 2: settings

-- tuner:step 1 kind=set_setting transactional=false destructive=false object="idle_in_transaction_session_timeout"
-- reason: idle_in_transaction_session_timeout: 0 -> 1min (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "idle_in_transaction_session_timeout" = '1min';

-- tuner:step 2 kind=set_setting transactional=false destructive=false object="maintenance_work_mem"
-- reason: maintenance_work_mem: 64MB -> 256MB (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "maintenance_work_mem" = '256MB';

-- tuner:step 3 kind=set_setting transactional=false destructive=false object="search_path"
-- reason: search_path: "$user", public -> "$user", public, app (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "search_path" = '$user', 'public', 'app';

-- tuner:step 4 kind=set_setting transactional=false destructive=false object="temp_buffers"
-- reason: temp_buffers: 16MB -> 32MB (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "temp_buffers" = '32MB';
