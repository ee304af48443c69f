-- Attendee lists as in the bot: event 1 is the big one (4,000 participants), the other 1,199
-- events have about 47 each. UNIQUE(event_id, user_id) gives an index leading with event_id,
-- so listing an event's confirmed users is a SEARCH already (never a problem), but it reads
-- the table for status. sqlite_stat1 averages ~17 rows per (event_id, status): only the
-- query's own value, event 1, shows that it visits ~1,330. The note makes the rows as wide
-- as real ones, so reading the table costs what it does.
CREATE TABLE participants (
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  status TEXT NOT NULL,          -- three values, a third each
  note TEXT NOT NULL,
  UNIQUE (event_id, user_id)
);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59999)
INSERT INTO participants
SELECT i + 1, CASE WHEN i % 15 = 0 THEN 1 ELSE 2 + i % 1199 END, 1 + i / 15,
       CASE (i / 15) % 3 WHEN 0 THEN 'confirmed' WHEN 1 THEN 'pending' ELSE 'declined' END,
       'A note to the organiser about arrival times, dietary needs, who else is coming and '
       || 'what to bring along; whether a lift from the station is needed, and for how many; '
       || 'which of the sessions they will skip; a phone number for the day, in case plans '
       || 'change at short notice; and thanks for organising it all, number ' || i
FROM n;
