-- pgconsole 0009: the worker's claim and completion statements never use a bitmap scan.
--
-- Seen in a drain on a queue table that was filled after its last ANALYZE (a fresh install's
-- first backlog; any table between autovacuum's analyzes): two workers drained at 970-2,960
-- jobs/s (one-second samples) for 66 s until autovacuum analyzed the table, then at 5,610-9,970;
-- one worker with auto_explain loaded: 1,400-1,650 jobs/s. auto_explain showed why: the claim's
-- UPDATE found the claimed ids with a BitmapAnd of the primary key and the whole pending partial
-- index (its predicate status = 'pending' is implied by the UPDATE's own status test), so every
-- claim of 10 read 100,000 index entries (4.1 of the 5.1 ms). The statistics said the pending
-- index was tiny; with force_generic_plan (0008) the plan is kept for the session, until an
-- ANALYZE invalidates it.
--
-- Every statement in these functions reaches its rows through an equality on the primary key
-- (id = ANY (...)) or through the pending index in claim order with a LIMIT: a bitmap scan is
-- never the right plan for them (a bitmap cannot stop at a LIMIT), so it is switched off for
-- the functions' statements. tests/queue/test_hot_path.py checks the plans with statistics
-- that say the table is empty.
ALTER FUNCTION pgconsole.claim_jobs(text, integer, text[], integer) SET enable_bitmapscan = off;
ALTER FUNCTION pgconsole.claim_jobs_lean(text, integer, integer, text[]) SET enable_bitmapscan = off;
ALTER FUNCTION pgconsole.complete_and_claim_jobs(text, uuid[], integer[], jsonb[], integer, integer, text[])
    SET enable_bitmapscan = off;
ALTER FUNCTION pgconsole.complete_jobs(text, uuid[], integer[], jsonb[]) SET enable_bitmapscan = off;
ALTER FUNCTION pgconsole.fail_jobs(text, uuid[], integer[], text[], text[], boolean[]) SET enable_bitmapscan = off;
ALTER FUNCTION pgconsole.heartbeat_jobs(text, uuid[], integer) SET enable_bitmapscan = off;
