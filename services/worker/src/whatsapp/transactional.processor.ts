import { UnrecoverableError } from 'bullmq';
import { sql, type Transaction } from 'kysely';
import { formatMoney, JOBS, type MessageParam } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { enqueue, transactionWithOutbox } from '@bursar/platform';
import { InvalidPhoneNumberError, toE164 } from '@bursar/whatsapp';
import type { WhatsAppContext } from './context.js';
import { MissingFactError, resolveParams, TRANSACTIONAL_PARAMS, type FactRow } from './facts.js';

type Purpose = 'invoice' | 'receipt' | 'reminder';

interface Recipient extends FactRow {
  schoolId: string;
  guardianId: string;
  phone: string;
  templateId: string;
  paramCount: number;
  header: string;
}

/**
 * The primary payer of the invoice's student, the facts of that invoice, and
 * the school's approved template for `purpose`; undefined when either is
 * missing (nothing to send, said in the job's result).
 */
function recipientsQuery(purpose: Purpose, where: ReturnType<typeof sql>) {
  return sql<Recipient & { balanceMinor: string }>`
    select sc.id as "schoolId", g.id as "guardianId", g.name as "guardianName", g.phone,
      st.first_name as "studentFirstName", st.last_name as "studentLastName",
      sc.name as "schoolName", sc.currency, sc.locale,
      i.id as "invoiceId", i.number as "invoiceNumber",
      (case when i.voided_at is null then i.total_minor - i.paid_minor + i.refunded_minor else 0 end) as "balanceMinor",
      to_char(i.due_date, 'YYYY-MM-DD') as "dueDate",
      t.id as "templateId", t.param_count as "paramCount", t.header
    from invoices i
    join schools sc on sc.id = i.school_id
    join students st on st.id = i.student_id
    join lateral (select guardian_id from student_guardians sg where sg.student_id = st.id
                  order by sg.is_primary_payer desc, sg.created_at limit 1) payer on true
    join guardians g on g.id = payer.guardian_id
    join whatsapp_templates t on t.school_id = sc.id and t.purpose = ${purpose} and t.status = 'approved'
    where ${where}
  `;
}

/** The message row for one recipient: its phone in E.164 or an exclusion, its parameters resolved. */
function messageRow(
  purpose: Purpose,
  recipient: Recipient,
  dedupeKey: string,
  params: readonly MessageParam[],
  payLink: (invoiceId: string) => string,
  document: { kind: 'invoice' | 'receipt'; id: string; filename: string } | null,
  paymentId: string | null,
) {
  let phone = recipient.phone;
  let status = 'queued';
  let reason: string | null = null;
  let values: string[] = [];
  try {
    phone = toE164(recipient.phone);
    values = resolveParams(params, recipient, payLink);
  } catch (error) {
    if (!(error instanceof InvalidPhoneNumberError) && !(error instanceof MissingFactError)) throw error;
    status = 'excluded';
    reason = error instanceof InvalidPhoneNumberError ? 'invalid_number' : 'missing_fact';
  }
  return {
    schoolId: recipient.schoolId,
    purpose,
    guardianId: recipient.guardianId,
    invoiceId: recipient.invoiceId,
    paymentId,
    phone,
    templateId: recipient.templateId,
    params: JSON.stringify(values),
    document: document && recipient.header === 'document' ? JSON.stringify(document) : null,
    dedupeKey,
    status,
    reason,
  };
}

/** Stores the message once (its dedupe key) and queues its send, ahead of every campaign send. */
async function storeAndQueue(trx: Transaction<DB>, row: ReturnType<typeof messageRow>): Promise<boolean> {
  const inserted = await trx
    .insertInto('whatsappMessages')
    .values(row)
    .onConflict((conflict) => conflict.column('dedupeKey').doNothing())
    .returning(['id', 'status'])
    .executeTakeFirst();
  if (inserted?.status === 'queued') await enqueue(trx, JOBS['whatsapp.send'], { messageId: inserted.id });
  return inserted !== undefined;
}

function templateParams(purpose: Purpose, count: number, paymentAmount?: string): MessageParam[] {
  return TRANSACTIONAL_PARAMS[purpose]
    .slice(0, count)
    .map((fact) => (fact === 'payment.amount' ? { text: paymentAmount ?? '' } : (fact as MessageParam)));
}

/**
 * `whatsapp.transactional`: the invoice message (its PDF as the document
 * header where the template has one, and the pay link) when an invoice's
 * first PDF is stored, or the receipt when a payment's is. Once per subject
 * (the dedupe key); skipped when the school has no approved template for it.
 */
export async function processTransactional(
  { purpose, subjectId }: { purpose: 'invoice' | 'receipt'; subjectId: string },
  { db, outbox, whatsapp }: WhatsAppContext,
): Promise<{ status: string }> {
  return transactionWithOutbox(db, outbox, async (trx) => {
    if (purpose === 'invoice') {
      const { rows } = await recipientsQuery('invoice', sql`i.id = ${subjectId}`).execute(trx);
      const recipient = rows[0];
      if (!recipient) return { status: 'skipped' };
      const row = messageRow(
        'invoice',
        { ...recipient, balanceMinor: BigInt(recipient.balanceMinor) },
        `invoice:${subjectId}`,
        templateParams('invoice', recipient.paramCount),
        whatsapp.payLink,
        { kind: 'invoice', id: subjectId, filename: `${recipient.invoiceNumber}.pdf` },
        null,
      );
      return { status: (await storeAndQueue(trx, row)) ? row.status : 'duplicate' };
    }
    const payment = await trx
      .selectFrom('payments')
      .select(['id', 'invoiceId', 'amountMinor', 'currency'])
      .where('id', '=', subjectId)
      .executeTakeFirst();
    if (!payment) throw new UnrecoverableError(`payment ${subjectId} does not exist`);
    const { rows } = await recipientsQuery('receipt', sql`i.id = ${payment.invoiceId}`).execute(trx);
    const recipient = rows[0];
    if (!recipient) return { status: 'skipped' };
    const amount = formatMoney(payment.amountMinor, payment.currency, recipient.locale);
    const row = messageRow(
      'receipt',
      { ...recipient, balanceMinor: BigInt(recipient.balanceMinor) },
      `receipt:${subjectId}`,
      templateParams('receipt', recipient.paramCount, amount),
      whatsapp.payLink,
      { kind: 'receipt', id: subjectId, filename: `receipt-${recipient.invoiceNumber}.pdf` },
      subjectId,
    );
    return { status: (await storeAndQueue(trx, row)) ? row.status : 'duplicate' };
  });
}

/**
 * `whatsapp.reminders`: every open invoice whose due date plus one of its
 * school's reminder offsets is today in the school's zone gets that offset's
 * reminder, once (`reminder:<invoice>:<offset>`). The send re-checks the
 * invoice, so a reminder queued before a payment is cancelled, not sent.
 */
export async function processReminders(
  _payload: Record<string, never>,
  { db, outbox, whatsapp }: WhatsAppContext,
  now: Date = new Date(),
): Promise<{ queued: number }> {
  return transactionWithOutbox(db, outbox, async (trx) => {
    const due = await sql<Recipient & { balanceMinor: string; offsetDays: number }>`
      select sc.id as "schoolId", g.id as "guardianId", g.name as "guardianName", g.phone,
        st.first_name as "studentFirstName", st.last_name as "studentLastName",
        sc.name as "schoolName", sc.currency, sc.locale,
        i.id as "invoiceId", i.number as "invoiceNumber",
        i.total_minor - i.paid_minor + i.refunded_minor as "balanceMinor",
        to_char(i.due_date, 'YYYY-MM-DD') as "dueDate",
        t.id as "templateId", t.param_count as "paramCount", t.header, o.offset_days as "offsetDays"
      from schools sc
      cross join lateral unnest(sc.reminder_offsets) as o(offset_days)
      join whatsapp_templates t on t.school_id = sc.id and t.purpose = 'reminder' and t.status = 'approved'
      join invoices i on i.school_id = sc.id
        and i.due_date = (${now.toISOString()}::timestamptz at time zone sc.timezone)::date - o.offset_days
      join students st on st.id = i.student_id
      join lateral (select guardian_id from student_guardians sg where sg.student_id = st.id
                    order by sg.is_primary_payer desc, sg.created_at limit 1) payer on true
      join guardians g on g.id = payer.guardian_id
      where i.voided_at is null and i.total_minor - i.paid_minor + i.refunded_minor > 0
        and not exists (select 1 from whatsapp_messages m
                        where m.dedupe_key = 'reminder:' || i.id || ':' || o.offset_days)
    `.execute(trx);
    let queued = 0;
    for (const recipient of due.rows) {
      const row = messageRow(
        'reminder',
        { ...recipient, balanceMinor: BigInt(recipient.balanceMinor) },
        `reminder:${recipient.invoiceId}:${recipient.offsetDays}`,
        templateParams('reminder', recipient.paramCount),
        whatsapp.payLink,
        { kind: 'invoice', id: recipient.invoiceId!, filename: `${recipient.invoiceNumber}.pdf` },
        null,
      );
      if ((await storeAndQueue(trx, row)) && row.status === 'queued') queued += 1;
    }
    return { queued };
  });
}
