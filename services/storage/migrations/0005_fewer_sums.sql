-- Fewer sums to keep: the fold, which adds each imported round to them, was
-- half of PostgreSQL's work in a catch-up.
--
-- Weapon sums per day only. Each round's weapon rows were added to four spans'
-- sums (day, month, year, all time): three quarters of the fold's time, and
-- four times the rows. Only a player's own weapons are read from them, and
-- over any period those add up their days: a few thousand rows at most.
--
-- The players' sums without "all time": a read over all time adds up a
-- player's years, a handful of rows each.

DELETE FROM player_sums WHERE span = 'all';
ALTER TABLE player_sums DROP CONSTRAINT player_sums_span_check,
    ADD CONSTRAINT player_sums_span_check CHECK (span IN ('day', 'month', 'year'));
CREATE OR REPLACE FUNCTION player_sum_spans() RETURNS SETOF text
    IMMUTABLE LANGUAGE sql AS $$ VALUES ('day'), ('month'), ('year') $$;

DELETE FROM player_weapon_sums WHERE span <> 'day';
ALTER TABLE player_weapon_sums DROP CONSTRAINT player_weapon_sums_span_check,
    ADD CONSTRAINT player_weapon_sums_span_check CHECK (span = 'day');

-- One function adds player rows and weapon rows to all the sums: each weapon
-- row's totals are looked up once, for the weapons' days and for the players'
-- hits and attempts, which go into the same upsert as the rest of the players'
-- sums (a second pass over the same sums cost the fold as much as the first).
DROP FUNCTION player_sums_add(player_rounds[], player_rounds[]);
DROP FUNCTION weapon_sums_add(weapon_rounds[], weapon_rounds[]);
CREATE FUNCTION player_sums_add(
    added player_rounds[], removed player_rounds[],
    added_shots weapon_rounds[] DEFAULT '{}', removed_shots weapon_rounds[] DEFAULT '{}'
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH shots AS MATERIALIZED (
        SELECT t.day, t.guid, t.bot_name, t.weapon, sum(x.sign * t.hits) AS hits,
               sum(x.sign * t.attempts) AS attempts, sum(x.sign * t.kills) AS kills,
               sum(x.sign * t.deaths) AS deaths, sum(x.sign * t.headshots) AS headshots
        FROM (SELECT 1 AS sign, a AS w FROM unnest(added_shots) a
              UNION ALL SELECT -1, a FROM unnest(removed_shots) a) x
        CROSS JOIN LATERAL weapon_round_totals(x.w) t
        GROUP BY t.day, t.guid, t.bot_name, t.weapon
    ), weapons AS (
        INSERT INTO player_weapon_sums AS d (guid, bot_name, span, start, weapon, hits,
                                             attempts, kills, deaths, headshots)
        SELECT guid, bot_name, 'day', day, weapon, hits, attempts, kills, deaths, headshots
        FROM shots ORDER BY guid, bot_name, day, weapon
        ON CONFLICT (guid, bot_name, span, start, weapon) DO UPDATE SET
            hits = d.hits + EXCLUDED.hits, attempts = d.attempts + EXCLUDED.attempts,
            kills = d.kills + EXCLUDED.kills, deaths = d.deaths + EXCLUDED.deaths,
            headshots = d.headshots + EXCLUDED.headshots
    )
    INSERT INTO player_sums AS d (span, start, guid, bot_name, rounds, kills, deaths, headshots,
                                  damage_given, damage_received, minutes, revives, objectives,
                                  hits, attempts)
    SELECT s.span, span_start(s.span, t.day), t.guid, t.bot_name, sum(t.rounds), sum(t.kills),
           sum(t.deaths), sum(t.headshots), sum(t.damage_given), sum(t.damage_received),
           sum(t.minutes), sum(t.revives), sum(t.objectives), sum(t.hits), sum(t.attempts)
    FROM (
        SELECT t.day, t.guid, t.bot_name, sum(x.sign * t.rounds) AS rounds,
               sum(x.sign * t.kills) AS kills, sum(x.sign * t.deaths) AS deaths,
               sum(x.sign * t.headshots) AS headshots,
               sum(x.sign * t.damage_given) AS damage_given,
               sum(x.sign * t.damage_received) AS damage_received,
               sum(x.sign * t.minutes) AS minutes, sum(x.sign * t.revives) AS revives,
               sum(x.sign * t.objectives) AS objectives, 0 AS hits, 0 AS attempts
        FROM (SELECT 1 AS sign, a AS p FROM unnest(added) a
              UNION ALL SELECT -1, a FROM unnest(removed) a) x
        CROSS JOIN LATERAL player_round_totals(x.p) t
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT day, guid, bot_name, 0, 0, 0, 0, 0, 0, 0, 0, 0, sum(hits), sum(attempts)
        FROM shots GROUP BY 1, 2, 3
    ) t
    CROSS JOIN player_sum_spans() s(span)
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (span, start, guid, bot_name) DO UPDATE SET
        rounds = d.rounds + EXCLUDED.rounds, kills = d.kills + EXCLUDED.kills,
        deaths = d.deaths + EXCLUDED.deaths, headshots = d.headshots + EXCLUDED.headshots,
        damage_given = d.damage_given + EXCLUDED.damage_given,
        damage_received = d.damage_received + EXCLUDED.damage_received,
        minutes = d.minutes + EXCLUDED.minutes, revives = d.revives + EXCLUDED.revives,
        objectives = d.objectives + EXCLUDED.objectives,
        hits = d.hits + EXCLUDED.hits, attempts = d.attempts + EXCLUDED.attempts;
END $$;

-- A summed round's weapon rows changed: its weapons' days and its players' shots.
CREATE OR REPLACE FUNCTION weapon_rounds_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    summed bigint[];
    added weapon_rounds[] := '{}';
    removed weapon_rounds[] := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        summed := summed_rounds(ARRAY(SELECT DISTINCT round_id FROM new_rows));
    ELSE
        summed := summed_rounds(ARRAY(SELECT DISTINCT round_id FROM old_rows));
    END IF;
    IF cardinality(summed) = 0 THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT coalesce(array_agg(n), '{}') INTO added FROM new_rows n
        WHERE n.round_id = ANY(summed);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT coalesce(array_agg(o), '{}') INTO removed FROM old_rows o
        WHERE o.round_id = ANY(summed);
    END IF;
    PERFORM player_sums_add('{}', '{}', added, removed);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rounds_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(summed_rounds(ARRAY[OLD.id])) = 0 THEN
        DELETE FROM player_sums_pending WHERE round_id = OLD.id;
        RETURN OLD;
    END IF;
    PERFORM player_sums_add(
        '{}', ARRAY(SELECT p FROM player_rounds p WHERE p.round_id = OLD.id),
        '{}', ARRAY(SELECT w FROM weapon_rounds w WHERE w.round_id = OLD.id));
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION player_sums_fold(most integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    taken bigint[];
BEGIN
    WITH gone AS (
        DELETE FROM player_sums_pending WHERE round_id IN (
            SELECT round_id FROM player_sums_pending ORDER BY round_id LIMIT most
            FOR UPDATE SKIP LOCKED)
        RETURNING round_id
    )
    SELECT coalesce(array_agg(round_id), '{}') INTO taken FROM gone;
    IF cardinality(taken) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM player_sums_add(
        ARRAY(SELECT p FROM player_rounds p WHERE p.round_id = ANY(taken)), '{}',
        ARRAY(SELECT w FROM weapon_rounds w WHERE w.round_id = ANY(taken)), '{}');
    RETURN cardinality(taken);
END $$;

-- As before, with the weapons' days only.
CREATE OR REPLACE FUNCTION player_reads_rebuild() RETURNS void LANGUAGE sql SET work_mem = '256MB' AS $$
    TRUNCATE player_sums, player_weapon_sums, player_names, player_sums_pending;
    INSERT INTO player_weapon_sums (guid, bot_name, span, start, weapon, hits, attempts, kills,
                                    deaths, headshots)
    SELECT t.guid, t.bot_name, 'day', t.day, t.weapon, sum(t.hits), sum(t.attempts),
           sum(t.kills), sum(t.deaths), sum(t.headshots)
    FROM weapon_rounds w CROSS JOIN LATERAL weapon_round_totals(w) t
    GROUP BY t.day, t.guid, t.bot_name, t.weapon;
    -- Each player's days first, then the longer spans from the days.
    INSERT INTO player_sums (span, start, guid, bot_name, rounds, kills, deaths, headshots,
                             damage_given, damage_received, minutes, revives, objectives,
                             hits, attempts)
    WITH days AS (
        SELECT t.day, t.guid, t.bot_name, sum(t.rounds) AS rounds, sum(t.kills) AS kills,
               sum(t.deaths) AS deaths, sum(t.headshots) AS headshots,
               sum(t.damage_given) AS damage_given, sum(t.damage_received) AS damage_received,
               sum(t.minutes) AS minutes, sum(t.revives) AS revives, sum(t.objectives) AS objectives
        FROM player_rounds p CROSS JOIN LATERAL player_round_totals(p) t
        GROUP BY t.day, t.guid, t.bot_name
    ), shots AS (
        SELECT start AS day, guid, bot_name, sum(hits) AS hits, sum(attempts) AS attempts
        FROM player_weapon_sums WHERE span = 'day' GROUP BY start, guid, bot_name
    )
    SELECT s.span, span_start(s.span, d.day), d.guid, d.bot_name, sum(d.rounds), sum(d.kills),
           sum(d.deaths), sum(d.headshots), sum(d.damage_given), sum(d.damage_received),
           sum(d.minutes), sum(d.revives), sum(d.objectives), coalesce(sum(w.hits), 0),
           coalesce(sum(w.attempts), 0)
    FROM days d LEFT JOIN shots w USING (day, guid, bot_name)
    CROSS JOIN player_sum_spans() s(span)
    GROUP BY 1, 2, 3, 4;
    INSERT INTO player_names (guid, bot_name, name, first_seen, last_seen)
    SELECT p.guid, player_bot_name(p.bot, p.clean_name), p.clean_name, min(r.stamp), max(r.stamp)
    FROM player_rounds p JOIN rounds r ON r.id = p.round_id
    GROUP BY 1, 2, 3;
$$;
