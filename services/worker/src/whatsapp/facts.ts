import { formatMoney, type MessageParam } from '@bursar/contracts';

/** What a message's facts are read from: one guardian, one of their students, that student's open invoice. */
export interface FactRow {
  guardianName: string;
  studentFirstName: string;
  studentLastName: string;
  schoolName: string;
  currency: string;
  locale: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  balanceMinor: bigint | null;
  dueDate: string | null;
}

/** A fact the row cannot give (an invoice fact for a student with nothing open). */
export class MissingFactError extends Error {
  constructor(readonly fact: string) {
    super(`no value for ${fact}`);
    this.name = 'MissingFactError';
  }
}

function formatDate(date: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(
    new Date(`${date}T00:00:00Z`),
  );
}

/**
 * Template parameter values from facts, in order. WhatsApp refuses newlines,
 * tabs and runs of spaces in a parameter, so whitespace is collapsed.
 */
export function resolveParams(
  params: readonly MessageParam[],
  row: FactRow,
  payLink: (invoiceId: string) => string,
): string[] {
  const need = <T>(value: T | null, fact: string): T => {
    if (value === null) throw new MissingFactError(fact);
    return value;
  };
  return params.map((param) => {
    const value = (() => {
      if (typeof param !== 'string') return param.text;
      switch (param) {
        case 'guardian.name':
          return row.guardianName;
        case 'student.firstName':
          return row.studentFirstName;
        case 'student.fullName':
          return `${row.studentFirstName} ${row.studentLastName}`;
        case 'school.name':
          return row.schoolName;
        case 'invoice.number':
          return need(row.invoiceNumber, param);
        case 'invoice.balance':
          return formatMoney(need(row.balanceMinor, param), row.currency, row.locale);
        case 'invoice.dueDate':
          return formatDate(need(row.dueDate, param), row.locale);
        case 'payLink':
          return payLink(need(row.invoiceId, param));
      }
    })();
    return value.replace(/\s+/g, ' ').trim();
  });
}

/**
 * The facts a transactional template's `{{1}}`…`{{n}}` take, in order, per
 * purpose (a template uses the first `paramCount` of them). Receipts name the
 * amount received in place of the balance's second use.
 */
export const TRANSACTIONAL_PARAMS: Record<'invoice' | 'reminder' | 'receipt', readonly string[]> = {
  invoice: [
    'guardian.name',
    'student.fullName',
    'invoice.number',
    'invoice.balance',
    'invoice.dueDate',
    'payLink',
  ],
  reminder: [
    'guardian.name',
    'student.fullName',
    'invoice.number',
    'invoice.balance',
    'invoice.dueDate',
    'payLink',
  ],
  receipt: ['guardian.name', 'payment.amount', 'student.fullName', 'invoice.number', 'invoice.balance'],
};
