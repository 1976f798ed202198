import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  SchoolStatement,
  SchoolStatementQuery,
  StudentStatement,
  StudentStatementQuery,
} from '@bursar/contracts';
import {
  isPastDay,
  reportSchoolAndVersion,
  schoolStudentBalances,
  schoolStudentBalancesAsOf,
  schoolSummary,
  schoolSummaryAsOf,
  studentStatementFrom,
  studentStatementHead,
  todayIn,
  toNumber,
  type SchoolSummary,
  type Totals,
} from '@bursar/ledger';
import { toRefund } from '../payments/payments.service.js';
import { notFound } from '@bursar/platform';

function totalsJson(totals: Totals) {
  return {
    invoicedMinor: toNumber(totals.invoicedMinor),
    paidMinor: toNumber(totals.paidMinor),
    refundedMinor: toNumber(totals.refundedMinor),
    balanceMinor: toNumber(totals.balanceMinor),
    creditMinor: toNumber(totals.creditMinor),
  };
}

/** The school (404 unless the caller may see it and it is live) and its stats version, in one query. */
async function schoolOf(db: Kysely<DB>, scope: string | null, schoolId: string) {
  if (scope && scope !== schoolId) throw notFound('School');
  const { school, version } = await reportSchoolAndVersion(db, schoolId);
  return { ...school, statsVersion: version };
}

/**
 * Student statements by (student, from, to, asOf, today's amounts or the
 * day's), each tagged with the school's stats version when it was read. The
 * version moves with every change to the school's students and money (a
 * trigger), so an entry is served only while it is still exact: a payment,
 * refund, void or edit anywhere in the school makes the next read compute
 * afresh. Every read still runs the head query, so a student who moved
 * school, or a caller from another school, never sees an entry. Bounded; the
 * least recently used entry goes first.
 */
const studentStatements = new Map<string, { version: bigint; statement: StudentStatement }>();
const STUDENT_STATEMENT_CACHE_SIZE = 2_000;

export async function getStudentStatement(
  db: Kysely<DB>,
  scope: string | null,
  studentId: string,
  query: StudentStatementQuery,
): Promise<StudentStatement> {
  const head = await studentStatementHead(db, { schoolId: scope, studentId });
  if (!head) throw notFound('Student');
  // Statuses need "today" in the school's zone; without an explicit asOf the
  // ledger's SQL uses the school's zone itself, and the answer names the day.
  // A past asOf is answered with the amounts as they stood at the end of it.
  const asOf = query.asOf ?? todayIn(head.school.timezone);
  const past = query.asOf !== undefined && isPastDay(query.asOf, head.school.timezone);
  const key = `${head.student.id}|${query.from ?? ''}|${query.to ?? ''}|${asOf}|${past ? 'day' : 'now'}`;
  const cached = studentStatements.get(key);
  if (cached && cached.version === head.statsVersion) {
    studentStatements.delete(key);
    studentStatements.set(key, cached);
    return cached.statement;
  }
  const statement = toStudentStatement(
    await studentStatementFrom(db, head, { from: query.from, to: query.to, asOf, pointInTime: true }),
    asOf,
  );
  studentStatements.delete(key);
  if (studentStatements.size >= STUDENT_STATEMENT_CACHE_SIZE)
    studentStatements.delete(studentStatements.keys().next().value!);
  // Tagged with the version read before the invoices: if money moved meanwhile,
  // the version is already past this one and the entry is never served.
  studentStatements.set(key, { version: head.statsVersion, statement });
  return statement;
}

function toStudentStatement(
  statement: Awaited<ReturnType<typeof studentStatementFrom>>,
  asOf: string,
): StudentStatement {
  return {
    student: statement.student,
    currency: statement.school.currency,
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
        refunds: payment.refunds.map(toRefund),
      })),
    })),
  };
}

interface CachedSummary {
  version: bigint;
  summary: SchoolSummary;
}

/**
 * School summaries by (school, asOf, today's amounts or the day's), each
 * tagged with the school's stats_version when it was computed. Any change to
 * the school's students or money moves the version (a trigger), so an entry
 * is served only while it is still exact; that holds for a past day too, which
 * only a back-dated payment can still change. The two kinds are kept apart:
 * an entry computed as today's is not the day's own once the day is over
 * (an invoice issued for a later date counts today, not on that day).
 * Bounded; the oldest entry goes first.
 */
const summaries = new Map<string, CachedSummary>();
const SUMMARY_CACHE_SIZE = 500;

async function summaryOf(
  db: Kysely<DB>,
  school: { id: string; timezone: string; statsVersion: bigint },
  asOf: string,
  past: boolean,
) {
  const key = `${school.id}|${asOf}|${past ? 'day' : 'now'}`;
  const version = school.statsVersion;
  const cached = summaries.get(key);
  if (cached && cached.version === version) return cached.summary;
  const summary = past
    ? await schoolSummaryAsOf(db, { schoolId: school.id, asOf, timezone: school.timezone })
    : await schoolSummary(db, { schoolId: school.id, asOf });
  summaries.delete(key);
  if (summaries.size >= SUMMARY_CACHE_SIZE) summaries.delete(summaries.keys().next().value!);
  // Tagged with the version read before computing: if money moved meanwhile,
  // the version is already past this one and the entry is never served.
  summaries.set(key, { version, summary });
  return summary;
}

export async function getSchoolStatement(
  db: Kysely<DB>,
  scope: string | null,
  schoolId: string,
  query: SchoolStatementQuery,
): Promise<SchoolStatement> {
  const school = await schoolOf(db, scope, schoolId);
  const asOf = query.asOf ?? todayIn(school.timezone);
  // A past asOf: every amount as it stood at the end of that day. Otherwise the running totals.
  // Decided once, so a request across midnight does not mix the two.
  const past = isPastDay(asOf, school.timezone);
  const page = { schoolId, limit: query.limit, offset: query.offset, sort: query.sort };
  const [summary, students] = await Promise.all([
    summaryOf(db, school, asOf, past),
    past
      ? schoolStudentBalancesAsOf(db, { ...page, asOf, timezone: school.timezone })
      : schoolStudentBalances(db, page),
  ]);
  return {
    schoolId,
    currency: school.currency,
    asOf,
    studentsCount: summary.studentsCount,
    totals: totalsJson(summary.totals),
    aging: {
      current: toNumber(summary.aging.current),
      days1To30: toNumber(summary.aging.days1To30),
      days31To60: toNumber(summary.aging.days31To60),
      days61To90: toNumber(summary.aging.days61To90),
      days90Plus: toNumber(summary.aging.days90Plus),
    },
    students: {
      data: students.map((row) => ({
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
      pagination: { limit: query.limit, offset: query.offset, total: summary.studentsTotal },
    },
  };
}
