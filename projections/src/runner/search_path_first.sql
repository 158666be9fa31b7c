-- Puts schema $1 first on the search path for the rest of the transaction
-- (SET LOCAL, with the schema's name bound rather than spliced in).
SELECT set_config('search_path', quote_ident($1) || ', ' || current_setting('search_path'), true)
