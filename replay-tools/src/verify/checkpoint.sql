-- A projection that never ran has applied nothing: position 0.
SELECT coalesce((SELECT position FROM projection_checkpoints WHERE name = $1), 0)
