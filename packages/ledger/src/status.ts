import { sql, type RawBuilder } from 'kysely';

/**
 * An invoice's status, derived in SQL from its amounts and the date in the
 * school's time zone (or `asOf`): never stored, so it cannot go stale.
 *  - void: voided
 *  - paid: nothing left to pay
 *  - overdue: something left to pay and the due date has passed
 *  - partial: something paid, something left, not yet overdue
 *  - pending: nothing paid, not yet overdue
 * Expects the query to have `invoices` and `schools` in scope.
 *
 * "Today" is `now` (the application's clock) seen in the school's zone, not
 * PostgreSQL's `now()`: the api's other dates (issue dates, `asOf` defaults,
 * token lifetimes) come from the same clock, so a test that moves it sees
 * one consistent day. `now` is one bound parameter, so the planner folds it
 * like a constant and the query costs what it did with `now()`.
 */
export function invoiceStatusSql(asOf?: string, now: Date = new Date()): RawBuilder<string> {
  return invoiceStatusOn(
    asOf ? sql`${asOf}::date` : sql`(${now.toISOString()}::timestamptz at time zone schools.timezone)::date`,
  );
}

/** The status rule of {@link invoiceStatusSql}, judged on the day `today` (an SQL date expression). */
export function invoiceStatusOn(today: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`case
    when invoices.voided_at is not null then 'void'
    when invoices.total_minor - invoices.paid_minor + invoices.refunded_minor <= 0 then 'paid'
    when invoices.due_date < ${today} then 'overdue'
    when invoices.paid_minor - invoices.refunded_minor > 0 then 'partial'
    else 'pending' end`;
}

/** What is left to pay on an invoice (0 for void ones). */
export const balanceSql = sql<bigint>`case when invoices.voided_at is not null then 0::bigint
  else invoices.total_minor - invoices.paid_minor + invoices.refunded_minor end`;
