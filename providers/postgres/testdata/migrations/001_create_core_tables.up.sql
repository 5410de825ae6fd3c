-- Baseline of Sprints 1-10: sites, assets and work orders.
CREATE TABLE sites (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    timezone    text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assets (
    id           bigserial PRIMARY KEY,
    site_id      bigint NOT NULL REFERENCES sites (id),
    tag          text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('inverter', 'transformer', 'tracker', 'meter', 'turbine')),
    commissioned date,
    UNIQUE (site_id, tag)
);

CREATE TABLE work_orders (
    id          bigserial PRIMARY KEY,
    asset_id    bigint NOT NULL REFERENCES assets (id),
    title       text NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    priority    smallint NOT NULL DEFAULT 3,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz
);

CREATE INDEX work_orders_asset_idx ON work_orders (asset_id);
