-- CURSOR_PAGE_ROWS (read_models.rs) rows at a time.
FETCH FORWARD 10000 FROM verify_statement
