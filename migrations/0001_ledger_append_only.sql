-- The ledger is append-only: the database itself refuses to change or remove an entry, whoever asks.
-- (A superuser can still drop the triggers; the hash chain is what makes that visible.)
CREATE FUNCTION keyferry_ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = 'ledger entries can only be inserted';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_update_delete
  BEFORE UPDATE OR DELETE ON "ledger_entries"
  FOR EACH ROW EXECUTE FUNCTION keyferry_ledger_refuse_change();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_truncate
  BEFORE TRUNCATE ON "ledger_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION keyferry_ledger_refuse_change();
