import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  SchoolStatement,
  SchoolStatementQuery,
  StudentStatement,
  StudentStatementQuery,
} from '@bursar/contracts';
import { schoolStatement, studentStatement, todayIn, toNumber, type Totals } from '@bursar/ledger';
import { notFound } from '../tenancy.js';

function totalsJson(totals: Totals) {
  return {
    invoicedMinor: toNumber(totals.invoicedMinor),
    paidMinor: toNumber(totals.paidMinor),
    refundedMinor: toNumber(totals.refundedMinor),
    balanceMinor: toNumber(totals.balanceMinor),
    creditMinor: toNumber(totals.creditMinor),
  };
}

async function schoolOf(db: Kysely<DB>, scope: string | null, schoolId: string) {
  if (scope && scope !== schoolId) throw notFound('School');
  const school = await db
    .selectFrom('schools')
    .select(['id', 'currency', 'timezone'])
    .where('id', '=', schoolId)
    .where('deletedAt', 'is', null)
    .executeTakeFirst();
  if (!school) throw notFound('School');
  return school;
}

export async function getStudentStatement(
  db: Kysely<DB>,
  scope: string | null,
  studentId: string,
  query: StudentStatementQuery,
): Promise<StudentStatement> {
  const located = await db
    .selectFrom('students')
    .innerJoin('schools', 'schools.id', 'students.schoolId')
    .select(['schools.id', 'schools.currency', 'schools.timezone'])
    .where('students.id', '=', studentId)
    .where('schools.deletedAt', 'is', null)
    .$if(scope !== null, (q) => q.where('students.schoolId', '=', scope!))
    .executeTakeFirst();
  if (!located) throw notFound('Student');
  const asOf = query.asOf ?? todayIn(located.timezone);
  const statement = await studentStatement(db, {
    schoolId: located.id,
    studentId,
    from: query.from,
    to: query.to,
    asOf,
  });
  if (!statement) throw notFound('Student');
  const student = statement.student;
  return {
    student,
    currency: located.currency,
    asOf,
    totals: totalsJson(statement.totals),
    invoices: statement.invoices.map((invoice) => ({
      id: invoice.id,
      number: invoice.number,
      issueDate: invoice.issueDate,
      dueDate: invoice.dueDate,
      totalMinor: toNumber(invoice.totalMinor),
      paidMinor: toNumber(invoice.paidMinor),
      refundedMinor: toNumber(invoice.refundedMinor),
      balanceMinor: toNumber(invoice.balanceMinor),
      status: invoice.status as StudentStatement['invoices'][number]['status'],
      payments: invoice.payments.map((payment) => ({
        id: payment.id,
        invoiceId: payment.invoiceId,
        amountMinor: toNumber(payment.amountMinor),
        refundedMinor: toNumber(payment.refundedMinor),
        method: payment.method as StudentStatement['invoices'][number]['payments'][number]['method'],
        reference: payment.reference,
        paidAt: payment.paidAt.toISOString(),
        refunds: payment.refunds.map((refund) => ({
          id: refund.id,
          paymentId: refund.paymentId,
          amountMinor: toNumber(refund.amountMinor),
          fromCreditMinor: toNumber(refund.fromCreditMinor),
          reason: refund.reason,
          createdAt: refund.createdAt.toISOString(),
        })),
      })),
    })),
  };
}

export async function getSchoolStatement(
  db: Kysely<DB>,
  scope: string | null,
  schoolId: string,
  query: SchoolStatementQuery,
): Promise<SchoolStatement> {
  const school = await schoolOf(db, scope, schoolId);
  const asOf = query.asOf ?? todayIn(school.timezone);
  const statement = await schoolStatement(db, {
    schoolId,
    asOf,
    limit: query.limit,
    offset: query.offset,
    sort: query.sort,
  });
  return {
    schoolId,
    currency: school.currency,
    asOf,
    studentsCount: statement.studentsCount,
    totals: totalsJson(statement.totals),
    aging: {
      current: toNumber(statement.aging.current),
      days1To30: toNumber(statement.aging.days1To30),
      days31To60: toNumber(statement.aging.days31To60),
      days61To90: toNumber(statement.aging.days61To90),
      days90Plus: toNumber(statement.aging.days90Plus),
    },
    students: {
      data: statement.students.map((row) => ({
        id: row.id,
        firstName: row.firstName,
        lastName: row.lastName,
        admissionNo: row.admissionNo,
        classId: row.classId,
        status: row.status,
        invoicedMinor: toNumber(row.invoicedMinor),
        paidMinor: toNumber(row.paidMinor),
        refundedMinor: toNumber(row.refundedMinor),
        balanceMinor: toNumber(row.balanceMinor),
        creditMinor: toNumber(row.creditMinor),
      })),
      pagination: { limit: query.limit, offset: query.offset, total: statement.total },
    },
  };
}
