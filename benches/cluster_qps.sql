-- The selective mix of issue 5 (placeholders filled by benches/http_load.rs, seeded).
-- Equality on inverted columns:
SELECT COUNT(*), SUM(latency_ms) FROM events WHERE country = '{country}' AND device = '{device}'
-- A range on the sorted column:
SELECT COUNT(*), MAX(latency_ms) FROM events WHERE user_id BETWEEN {user} AND {user_hi}
-- A filtered top-10:
SELECT user_id, latency_ms FROM events WHERE country = '{country}' AND device = '{device}' ORDER BY latency_ms DESC LIMIT 10
