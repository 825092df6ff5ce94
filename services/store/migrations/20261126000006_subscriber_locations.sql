-- Where subscribers were seen: the region of a network event or of the store a verification came
-- from, for the unusual-region and impossible-travel rules. Region codes are coarse (a country or
-- a network area) and the subscriber is a keyed hash, never the MSISDN.
CREATE TABLE subscriber_locations (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    region TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX subscriber_locations_by_subscriber ON subscriber_locations (tenant, subscriber_id, at);
