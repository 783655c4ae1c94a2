import { Migration } from '@mikro-orm/migrations';

/**
 * The trace an outbox event was written in (issue 20, ADR 0026): a nullable
 * `trace_context` holding the W3C `traceparent` of the hub's span that wrote
 * the event, so that the worker's delivery continues the request's trace.
 * With tracing on, the hub sets the session setting `meridian.trace_context`
 * each time it takes a connection from its pool (an empty string outside a
 * span); a row trigger copies it into each new event. Without tracing the
 * setting is never set and the column stays null.
 */
export class Migration20261207650000_trace_context extends Migration {
  override up(): void {
    this.addSql(`
      alter table outbox_event add column trace_context text null;
      create function meridian_outbox_trace_context() returns trigger language plpgsql as $$
      begin
        if new.trace_context is null then
          new.trace_context := nullif(current_setting('meridian.trace_context', true), '');
        end if;
        return new;
      end
      $$;
      create trigger outbox_event_trace_context before insert on outbox_event
        for each row execute function meridian_outbox_trace_context();
    `);
  }

  override down(): void {
    this.addSql(`
      drop trigger outbox_event_trace_context on outbox_event;
      drop function meridian_outbox_trace_context();
      alter table outbox_event drop column trace_context;
    `);
  }
}
