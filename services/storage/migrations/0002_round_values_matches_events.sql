-- Computed round values beside the raw file values, R1/R2 matches,
-- players, and the pipeline event log.

ALTER TABLE player_rounds
    ADD COLUMN rounds          smallint NOT NULL DEFAULT 0,
    ADD COLUMN round_values    double precision[],
    ADD COLUMN round_kills     integer,
    ADD COLUMN round_deaths    integer,
    ADD COLUMN round_headshots integer,
    -- round1, difference, joined, reset; NULL while no round values are known
    ADD COLUMN basis           text;

ALTER TABLE weapon_rounds
    ADD COLUMN round_hits      integer,
    ADD COLUMN round_attempts  integer,
    ADD COLUMN round_kills     integer,
    ADD COLUMN round_deaths    integer,
    ADD COLUMN round_headshots integer;

-- A played map: round 1 and the round 2 paired with it.
CREATE TABLE matches (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    map             text NOT NULL,
    r1_round_id     bigint NOT NULL UNIQUE REFERENCES rounds (id) ON DELETE CASCADE,
    r2_round_id     bigint NOT NULL UNIQUE REFERENCES rounds (id) ON DELETE CASCADE,
    outcome         text NOT NULL,
    time_to_beat_s  integer NOT NULL,
    round2_time_s   integer NOT NULL,
    fullhold        boolean NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A source is one game server, so pairing looks at source and map.
CREATE INDEX rounds_pairing ON rounds (source, map, round, stamp);

CREATE TABLE players (
    guid        text PRIMARY KEY,
    names       text[] NOT NULL,
    first_seen  timestamp NOT NULL,
    last_seen   timestamp NOT NULL
);

CREATE TABLE pipeline_events (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    stage     text NOT NULL,
    outcome   text NOT NULL,
    source    text NOT NULL,
    filename  text NOT NULL,
    msg_id    text NOT NULL,
    seconds   double precision NOT NULL DEFAULT 0,
    detail    text NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_events_at ON pipeline_events (at);
CREATE INDEX pipeline_events_outcome_at ON pipeline_events (outcome, at);
-- The same event delivered twice is stored once.
CREATE UNIQUE INDEX pipeline_events_once ON pipeline_events (msg_id, stage, outcome);

CREATE INDEX files_status ON files (source, status);
