SELECT name, position, updated_at FROM projection_checkpoints ORDER BY name
