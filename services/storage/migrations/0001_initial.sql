-- Files ledger, rounds and per-player/per-weapon rows.

CREATE TABLE sources (
    name        text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE files (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL REFERENCES sources (name),
    filename        text NOT NULL,
    sha256          text NOT NULL,
    payload_sha256  text,
    size            bigint NOT NULL,
    status          text NOT NULL CHECK (status IN ('imported', 'rejected', 'duplicate')),
    duplicate_of    bigint REFERENCES files (id),
    error           text,
    msg_id          text NOT NULL,
    origin          text NOT NULL,
    sync_id         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, filename)
);
-- One imported file per payload and source: a re-upload under a new name is a duplicate.
CREATE UNIQUE INDEX files_one_import_per_payload
    ON files (source, payload_sha256) WHERE status = 'imported';

CREATE TABLE rounds (
    id                    bigserial PRIMARY KEY,
    file_id               bigint NOT NULL UNIQUE REFERENCES files (id),
    source                text NOT NULL,
    map                   text NOT NULL,
    round                 smallint NOT NULL,
    stamp                 timestamp NOT NULL,
    server_name           text NOT NULL,
    config                text NOT NULL,
    defender_team         smallint NOT NULL,
    winner_team           smallint NOT NULL,
    time_limit_s          integer NOT NULL,
    next_time_limit_s     integer NOT NULL,
    playtime_ms           bigint,
    header_fields         smallint NOT NULL,
    teams_low_confidence  boolean NOT NULL,
    partial               boolean NOT NULL DEFAULT false,
    short                 boolean NOT NULL DEFAULT false,
    bot                   boolean NOT NULL DEFAULT false,
    orphan                boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rounds_source_stamp ON rounds (source, stamp);
CREATE INDEX rounds_source_map_stamp ON rounds (source, map, stamp);

-- `slot` is the player's line order in the file: bots may share guid and name.
CREATE TABLE player_rounds (
    round_id    bigint NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    slot        smallint NOT NULL,
    guid        text NOT NULL,
    name        text NOT NULL,
    clean_name  text NOT NULL,
    team        smallint NOT NULL,
    bot         boolean NOT NULL,
    kills       integer NOT NULL,
    deaths      integer NOT NULL,
    headshots   integer NOT NULL,
    raw_values  double precision[] NOT NULL,
    PRIMARY KEY (round_id, slot)
);
CREATE INDEX player_rounds_guid ON player_rounds (guid);

CREATE TABLE weapon_rounds (
    round_id   bigint NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    slot       smallint NOT NULL,
    weapon     smallint NOT NULL,
    hits       integer NOT NULL,
    attempts   integer NOT NULL,
    kills      integer NOT NULL,
    deaths     integer NOT NULL,
    headshots  integer NOT NULL,
    PRIMARY KEY (round_id, slot, weapon)
);
