-- Gaming sessions: the rounds of a source played without a pause longer than a
-- gap. They are derived from the stored rounds when asked for (nothing is
-- written per round), by this one function, which storage's session reads and
-- the Grafana dashboard both call:
--
--   round_sessions(source_name text, since timestamp, until timestamp,
--                  gap interval DEFAULT interval '60 minutes')
--
-- returns every session of `source_name` (NULL: of every source) that has a
-- round with `since <= stamp < until` (a NULL bound: unbounded), whole: a
-- session the range cuts keeps its rounds outside the range. A round begins a
-- new session when the source's round before it is more than `gap` older
-- (file stamps: the end of each round, server local time). Bot rounds (only
-- bots played) are no part of any session: a server left running with bots
-- would otherwise never end one. Each row:
--
--   source          the source (game server)
--   first_stamp     the stamp of the session's first round
--   last_stamp      the stamp of its last round
--   round_count     how many rounds it holds
--   first_round_id  its first round (rounds.id), which names the session
--   last_round_id   its last round
--   round_ids       all its rounds, in play order
--
-- ordered by first_stamp, then source. Example (Grafana, a dashboard's range):
--   SELECT first_stamp AS time, source, round_count
--   FROM round_sessions(NULL, $__timeFrom()::timestamp, $__timeTo()::timestamp);
--
-- It reads `rounds_source_stamp`: the sessions at the range's edges are found
-- by stepping from round to round (one index probe each) until a gap, so a
-- day's sessions cost that day's rounds, not the history.

CREATE FUNCTION round_sessions(
    source_name text,
    since timestamp,
    until timestamp,
    gap interval DEFAULT interval '60 minutes'
)
RETURNS TABLE (
    source text, first_stamp timestamp, last_stamp timestamp, round_count integer,
    first_round_id bigint, last_round_id bigint, round_ids bigint[]
) STABLE LANGUAGE sql AS $$
    WITH RECURSIVE wanted(name) AS (
        SELECT round_sessions.source_name WHERE round_sessions.source_name IS NOT NULL
        UNION ALL
        SELECT s.name FROM sources s WHERE round_sessions.source_name IS NULL
    ), edges AS (
        -- Each source's first and last session round within the range.
        SELECT w.name,
               (SELECT r.stamp FROM rounds r
                WHERE r.source = w.name AND NOT r.bot
                  AND r.stamp >= coalesce(round_sessions.since, '-infinity')
                  AND r.stamp < coalesce(round_sessions.until, 'infinity')
                ORDER BY r.stamp LIMIT 1) AS first,
               (SELECT r.stamp FROM rounds r
                WHERE r.source = w.name AND NOT r.bot
                  AND r.stamp >= coalesce(round_sessions.since, '-infinity')
                  AND r.stamp < coalesce(round_sessions.until, 'infinity')
                ORDER BY r.stamp DESC LIMIT 1) AS last
        FROM wanted w
    ), back(name, stamp) AS (
        -- Back from the first round, round by round, while within the gap.
        SELECT name, first FROM edges WHERE first IS NOT NULL
        UNION ALL
        SELECT b.name, p.stamp FROM back b CROSS JOIN LATERAL (
            SELECT r.stamp FROM rounds r
            WHERE r.source = b.name AND NOT r.bot AND r.stamp < b.stamp
            ORDER BY r.stamp DESC LIMIT 1) p
        WHERE p.stamp >= b.stamp - round_sessions.gap
    ), ahead(name, stamp) AS (
        -- On from the last round, the same way.
        SELECT name, last FROM edges WHERE last IS NOT NULL
        UNION ALL
        SELECT a.name, n.stamp FROM ahead a CROSS JOIN LATERAL (
            SELECT r.stamp FROM rounds r
            WHERE r.source = a.name AND NOT r.bot AND r.stamp > a.stamp
            ORDER BY r.stamp LIMIT 1) n
        WHERE n.stamp <= a.stamp + round_sessions.gap
    ), spans AS (
        SELECT b.name, b.lo, a.hi
        FROM (SELECT name, min(stamp) AS lo FROM back GROUP BY name) b
        JOIN (SELECT name, max(stamp) AS hi FROM ahead GROUP BY name) a USING (name)
    ), played AS (
        SELECT r.source, r.id, r.stamp,
               CASE WHEN r.stamp - lag(r.stamp) OVER (PARTITION BY r.source ORDER BY r.stamp, r.id)
                         <= round_sessions.gap THEN 0 ELSE 1 END AS begins
        FROM spans s CROSS JOIN LATERAL (  -- an index range scan per source: OFFSET 0
            SELECT q.source, q.id, q.stamp FROM rounds q  -- keeps it from being a hash join
            WHERE q.source = s.name AND q.stamp BETWEEN s.lo AND s.hi AND NOT q.bot OFFSET 0) r
    ), numbered AS (
        SELECT p.*, sum(p.begins) OVER (PARTITION BY p.source ORDER BY p.stamp, p.id) AS n
        FROM played p
    )
    SELECT x.source, min(x.stamp), max(x.stamp), count(*)::integer,
           (array_agg(x.id ORDER BY x.stamp, x.id))[1],
           (array_agg(x.id ORDER BY x.stamp DESC, x.id DESC))[1],
           array_agg(x.id ORDER BY x.stamp, x.id)
    FROM numbered x
    GROUP BY x.source, x.n
    ORDER BY min(x.stamp), x.source
$$;
