-- The players' read side: names to look players up by, sums per player over
-- days, months, years and all time (and per weapon), so that stats and
-- leaderboards over any period add up a few sums rather than rounds, and
-- Discord links. Imports note their rounds; storage folds them into the sums.
--
-- A player is a guid and, for a bot, its name: every Omni-bot is OMNIBOT0.
-- A round counts for a player when its round values are known (an orphan
-- round 2's totals never count) and it is neither a bot round nor a short one.

CREATE FUNCTION player_bot_name(bot boolean, clean_name text) RETURNS text
    IMMUTABLE LANGUAGE sql AS $$ SELECT CASE WHEN bot THEN clean_name ELSE '' END $$;

-- What one player row adds to its player's day; no row when it does not count.
-- Value positions (1-based) as in etstats.statsfile.values; a test checks them.
CREATE FUNCTION player_round_totals(p player_rounds)
RETURNS TABLE (
    day date, stamp timestamp, guid text, bot_name text, rounds integer,
    kills integer, deaths integer, headshots integer,
    damage_given double precision, damage_received double precision,
    minutes double precision, revives double precision, objectives double precision
) STABLE LANGUAGE sql AS $$
    SELECT r.stamp::date, r.stamp, p.guid, player_bot_name(p.bot, p.clean_name), 1,
           p.round_kills, p.round_deaths, p.round_headshots,
           coalesce(p.round_values[1], 0),   -- damage_given
           coalesce(p.round_values[2], 0),   -- damage_received
           coalesce(p.round_values[23], 0),  -- time_played_minutes
           coalesce(p.round_values[38], 0),  -- revives_given
           coalesce(p.round_values[16], 0) + coalesce(p.round_values[17], 0)  -- objectives_stolen, _returned
             + coalesce(p.round_values[18], 0) + coalesce(p.round_values[19], 0)  -- dynamites_planted, _defused
    FROM rounds r
    WHERE r.id = p.round_id AND p.round_values IS NOT NULL AND NOT r.bot AND NOT r.short
$$;

-- What one weapon row adds to its player's day with that weapon.
CREATE FUNCTION weapon_round_totals(w weapon_rounds)
RETURNS TABLE (
    day date, guid text, bot_name text, weapon smallint,
    hits integer, attempts integer, kills integer, deaths integer, headshots integer
) STABLE LANGUAGE sql AS $$
    SELECT r.stamp::date, p.guid, player_bot_name(p.bot, p.clean_name), w.weapon,
           w.round_hits, w.round_attempts, w.round_kills, w.round_deaths, w.round_headshots
    FROM player_rounds p JOIN rounds r ON r.id = p.round_id
    WHERE p.round_id = w.round_id AND p.slot = w.slot AND w.round_hits IS NOT NULL
      AND NOT r.bot AND NOT r.short
$$;

CREATE TABLE player_names (
    guid        text NOT NULL,
    bot_name    text NOT NULL,
    name        text NOT NULL,  -- colour codes stripped
    first_seen  timestamp NOT NULL,
    last_seen   timestamp NOT NULL,
    PRIMARY KEY (guid, bot_name, name)
);

-- The spans sums are kept over (as in etstats.period.SPANS), and where each
-- begins: a day, the first of a month or a year, or the beginning of time.
CREATE FUNCTION player_sum_spans() RETURNS SETOF text
    IMMUTABLE LANGUAGE sql AS $$ VALUES ('day'), ('month'), ('year'), ('all') $$;
CREATE FUNCTION span_start(span text, day date) RETURNS date
    IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE span WHEN 'day' THEN day WHEN 'month' THEN date_trunc('month', day)::date
                     WHEN 'year' THEN date_trunc('year', day)::date
                     ELSE DATE '0001-01-01' END
$$;

CREATE TABLE player_sums (
    span             text NOT NULL CHECK (span IN ('day', 'month', 'year', 'all')),
    start            date NOT NULL,
    guid             text NOT NULL,
    bot_name         text NOT NULL,
    rounds           integer NOT NULL DEFAULT 0,
    kills            integer NOT NULL DEFAULT 0,
    deaths           integer NOT NULL DEFAULT 0,
    headshots        integer NOT NULL DEFAULT 0,
    hits             bigint NOT NULL DEFAULT 0,
    attempts         bigint NOT NULL DEFAULT 0,
    damage_given     double precision NOT NULL DEFAULT 0,
    damage_received  double precision NOT NULL DEFAULT 0,
    minutes          double precision NOT NULL DEFAULT 0,
    revives          double precision NOT NULL DEFAULT 0,
    objectives       double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (span, start, guid, bot_name)
);
CREATE INDEX player_sums_player ON player_sums (guid, bot_name, span, start);

CREATE TABLE player_weapon_sums (
    guid       text NOT NULL,
    bot_name   text NOT NULL,
    span       text NOT NULL CHECK (span IN ('day', 'month', 'year', 'all')),
    start      date NOT NULL,
    weapon     smallint NOT NULL,
    hits       bigint NOT NULL DEFAULT 0,
    attempts   bigint NOT NULL DEFAULT 0,
    kills      integer NOT NULL DEFAULT 0,
    deaths     integer NOT NULL DEFAULT 0,
    headshots  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (guid, bot_name, span, start, weapon)
);

-- Add some player rows to the sums and take others away. Upserts go in key
-- order, so concurrent imports lock shared sums in the same order. PL/pgSQL,
-- not SQL: its plans are kept for the session, an SQL function's are made anew
-- at every call, which took longer than the import itself.
CREATE FUNCTION player_sums_add(added player_rounds[], removed player_rounds[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO player_sums AS d (span, start, guid, bot_name, rounds, kills, deaths, headshots,
                                  damage_given, damage_received, minutes, revives, objectives)
    SELECT s.span, span_start(s.span, t.day), t.guid, t.bot_name, sum(x.sign * t.rounds),
           sum(x.sign * t.kills), sum(x.sign * t.deaths), sum(x.sign * t.headshots),
           sum(x.sign * t.damage_given), sum(x.sign * t.damage_received),
           sum(x.sign * t.minutes), sum(x.sign * t.revives), sum(x.sign * t.objectives)
    FROM (SELECT 1 AS sign, a AS p FROM unnest(added) a
          UNION ALL SELECT -1, a FROM unnest(removed) a) x
    CROSS JOIN LATERAL player_round_totals(x.p) t
    CROSS JOIN player_sum_spans() s(span)
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (span, start, guid, bot_name) DO UPDATE SET
        rounds = d.rounds + EXCLUDED.rounds, kills = d.kills + EXCLUDED.kills,
        deaths = d.deaths + EXCLUDED.deaths, headshots = d.headshots + EXCLUDED.headshots,
        damage_given = d.damage_given + EXCLUDED.damage_given,
        damage_received = d.damage_received + EXCLUDED.damage_received,
        minutes = d.minutes + EXCLUDED.minutes, revives = d.revives + EXCLUDED.revives,
        objectives = d.objectives + EXCLUDED.objectives;
END $$;

CREATE FUNCTION weapon_sums_add(added weapon_rounds[], removed weapon_rounds[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    WITH sums AS (
        SELECT t.day, t.guid, t.bot_name, t.weapon, sum(x.sign * t.hits) AS hits,
               sum(x.sign * t.attempts) AS attempts, sum(x.sign * t.kills) AS kills,
               sum(x.sign * t.deaths) AS deaths, sum(x.sign * t.headshots) AS headshots
        FROM (SELECT 1 AS sign, a AS w FROM unnest(added) a
              UNION ALL SELECT -1, a FROM unnest(removed) a) x
        CROSS JOIN LATERAL weapon_round_totals(x.w) t
        GROUP BY t.day, t.guid, t.bot_name, t.weapon
    ), weapons AS (
        INSERT INTO player_weapon_sums AS d (guid, bot_name, span, start, weapon, hits, attempts,
                                             kills, deaths, headshots)
        SELECT guid, bot_name, s.span, span_start(s.span, day), weapon, sum(hits),
               sum(attempts), sum(kills), sum(deaths), sum(headshots)
        FROM sums CROSS JOIN player_sum_spans() s(span)
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (guid, bot_name, span, start, weapon) DO UPDATE SET
            hits = d.hits + EXCLUDED.hits, attempts = d.attempts + EXCLUDED.attempts,
            kills = d.kills + EXCLUDED.kills, deaths = d.deaths + EXCLUDED.deaths,
            headshots = d.headshots + EXCLUDED.headshots
    )
    INSERT INTO player_sums AS d (span, start, guid, bot_name, hits, attempts)
    SELECT s.span, span_start(s.span, day), guid, bot_name, sum(hits), sum(attempts)
    FROM sums CROSS JOIN player_sum_spans() s(span)
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (span, start, guid, bot_name) DO UPDATE SET
        hits = d.hits + EXCLUDED.hits, attempts = d.attempts + EXCLUDED.attempts;
END $$;

-- Rounds whose rows are not in the sums yet. An import only notes its round
-- here: adding to the sums row by row, in every import, doubled its time.
-- Storage folds the noted rounds in, many at a time, within a second
-- (`player_sums_fold`); until then reads add those rounds up from their rows.
CREATE TABLE player_sums_pending (round_id bigint PRIMARY KEY);

-- Those of the rounds `ids` whose rows are in the sums. A round still noted is
-- locked, so that no fold takes it meanwhile (a fold skips locked rounds, and
-- one that took a round first is waited for: then the round is in the sums).
CREATE FUNCTION summed_rounds(ids bigint[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    noted bigint[];
BEGIN
    SELECT coalesce(array_agg(round_id), '{}') INTO noted FROM (
        SELECT round_id FROM player_sums_pending WHERE round_id = ANY(ids)
        ORDER BY round_id FOR UPDATE
    ) q;
    RETURN ARRAY(SELECT unnest(ids) EXCEPT SELECT unnest(noted));
END $$;

-- Player rows: a new round's are noted to be folded in; changed or deleted rows
-- of a summed round change the sums at once (a re-paired round 2, a deletion).
CREATE FUNCTION player_rounds_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    summed bigint[];
    added player_rounds[] := '{}';
    removed player_rounds[] := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO player_sums_pending (round_id)
        SELECT DISTINCT round_id FROM new_rows ORDER BY 1 ON CONFLICT DO NOTHING;
        INSERT INTO player_names AS k (guid, bot_name, name, first_seen, last_seen)
        SELECT n.guid, player_bot_name(n.bot, n.clean_name), n.clean_name,
               min(r.stamp), max(r.stamp)
        FROM new_rows n JOIN rounds r ON r.id = n.round_id
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (guid, bot_name, name) DO UPDATE SET
            first_seen = least(k.first_seen, EXCLUDED.first_seen),
            last_seen = greatest(k.last_seen, EXCLUDED.last_seen);
        RETURN NULL;
    END IF;
    summed := summed_rounds(ARRAY(SELECT DISTINCT round_id FROM old_rows));
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(n), '{}') INTO added FROM new_rows n
        WHERE n.round_id = ANY(summed);
    END IF;
    SELECT coalesce(array_agg(o), '{}') INTO removed FROM old_rows o WHERE o.round_id = ANY(summed);
    PERFORM player_sums_add(added, removed);
    RETURN NULL;
END $$;

-- Weapon rows: those of a noted round wait for its fold; a summed round's
-- change the sums at once.
CREATE FUNCTION weapon_rounds_track() RETURNS trigger LANGUAGE plpgsql AS $$
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
    PERFORM weapon_sums_add(added, removed);
    RETURN NULL;
END $$;

-- A deleted round leaves the sums while its rows still exist (or just the
-- notes, if it was never folded in); the cascade that follows finds no round
-- to count its rows by, so nothing is taken away twice.
CREATE FUNCTION rounds_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(summed_rounds(ARRAY[OLD.id])) = 0 THEN
        DELETE FROM player_sums_pending WHERE round_id = OLD.id;
        RETURN OLD;
    END IF;
    PERFORM player_sums_add('{}', ARRAY(SELECT p FROM player_rounds p WHERE p.round_id = OLD.id));
    PERFORM weapon_sums_add('{}', ARRAY(SELECT w FROM weapon_rounds w WHERE w.round_id = OLD.id));
    RETURN OLD;
END $$;

-- Fold up to `most` noted rounds into the sums, in one transaction with taking
-- their notes, so that a read sees each round once: in the sums or from its rows.
-- Returns how many were folded.
CREATE FUNCTION player_sums_fold(most integer) RETURNS integer LANGUAGE plpgsql AS $$
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
    PERFORM player_sums_add(ARRAY(SELECT p FROM player_rounds p WHERE p.round_id = ANY(taken)), '{}');
    PERFORM weapon_sums_add(ARRAY(SELECT w FROM weapon_rounds w WHERE w.round_id = ANY(taken)), '{}');
    RETURN cardinality(taken);
END $$;

CREATE TRIGGER player_rounds_inserted AFTER INSERT ON player_rounds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION player_rounds_track();
CREATE TRIGGER player_rounds_updated AFTER UPDATE ON player_rounds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION player_rounds_track();
CREATE TRIGGER player_rounds_deleted AFTER DELETE ON player_rounds
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION player_rounds_track();
CREATE TRIGGER weapon_rounds_inserted AFTER INSERT ON weapon_rounds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION weapon_rounds_track();
CREATE TRIGGER weapon_rounds_updated AFTER UPDATE ON weapon_rounds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION weapon_rounds_track();
CREATE TRIGGER weapon_rounds_deleted AFTER DELETE ON weapon_rounds
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION weapon_rounds_track();
CREATE TRIGGER rounds_deleting BEFORE DELETE ON rounds
    FOR EACH ROW EXECUTE FUNCTION rounds_forget();

-- The sums and names made anew from every stored row, set-based (far faster
-- than row by row): for the rounds stored before this migration, and after a
-- bulk load made with the triggers off. Nothing is left to fold.
CREATE FUNCTION player_reads_rebuild() RETURNS void LANGUAGE sql SET work_mem = '256MB' AS $$
    TRUNCATE player_sums, player_weapon_sums, player_names, player_sums_pending;
    -- Each player's days first, then the longer spans from the days.
    INSERT INTO player_weapon_sums (guid, bot_name, span, start, weapon, hits, attempts, kills,
                                    deaths, headshots)
    WITH days AS (
        SELECT t.day, t.guid, t.bot_name, t.weapon, sum(t.hits) AS hits,
               sum(t.attempts) AS attempts, sum(t.kills) AS kills, sum(t.deaths) AS deaths,
               sum(t.headshots) AS headshots
        FROM weapon_rounds w CROSS JOIN LATERAL weapon_round_totals(w) t
        GROUP BY t.day, t.guid, t.bot_name, t.weapon
    )
    SELECT d.guid, d.bot_name, s.span, span_start(s.span, d.day), d.weapon, sum(d.hits),
           sum(d.attempts), sum(d.kills), sum(d.deaths), sum(d.headshots)
    FROM days d CROSS JOIN player_sum_spans() s(span)
    GROUP BY 1, 2, 3, 4, 5;
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
SELECT player_reads_rebuild();

-- Stats over part days and a player's latest rounds read rounds by their time.
CREATE INDEX rounds_stamp ON rounds (stamp, id);

-- A Discord member and the player they are (bots cannot be linked).
CREATE TABLE player_links (
    discord_id  text PRIMARY KEY,
    guid        text NOT NULL UNIQUE,
    linked_by   text NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now()
);
