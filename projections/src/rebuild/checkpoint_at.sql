SELECT position FROM projection_checkpoints WHERE name = $1
