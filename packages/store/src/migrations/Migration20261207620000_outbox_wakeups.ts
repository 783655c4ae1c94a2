import { Migration } from '@mikro-orm/migrations';

/**
 * Wakes the outbox relays of every hub process when a change commits
 * (ADR 0024): a statement-level trigger on `outbox_event` sends
 * `NOTIFY meridian_outbox` with no payload. PostgreSQL delivers it at commit
 * (never for a rolled-back write) and folds the notifications of one
 * transaction into one. The relay's dedicated `LISTEN` connection kicks its
 * loop; the poll stays as a slow fallback for a lost notification.
 */
export class Migration20261207620000_outbox_wakeups extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_outbox_notify() returns trigger language plpgsql as $$
      begin
        perform pg_notify('meridian_outbox', '');
        return null;
      end
      $$;
      create trigger outbox_event_notify after insert on outbox_event
        for each statement execute function meridian_outbox_notify();
    `);
  }

  override down(): void {
    this.addSql(`
      drop trigger outbox_event_notify on outbox_event;
      drop function meridian_outbox_notify();
    `);
  }
}
