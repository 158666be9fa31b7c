-- Event ids are UUID v7 made by the writer (a timestamp and 74 random bits):
-- they do not collide in practice, and nothing looks an event up by its id.
-- Keeping them unique cost a third B-tree insert on every append, the
-- hottest statement of the system; (stream_id, stream_version) stays unique
-- and is what makes appends safe.
ALTER TABLE events DROP CONSTRAINT events_event_id_key;
