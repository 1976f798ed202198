/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are whatever the route under test sends */
/**
 * Test data builders: a school, class, student, guardian, invoice or payment
 * in one call with sensible defaults, so a test says only what matters to it.
 *
 * Two kinds. `httpBuilders(send)` goes through the api (the route, its
 * validation, its audit row), for tests about those resources or that need
 * money moved the way the ledger moves it; `send` is the test's own request
 * function bound to a caller, so this package never imports a service.
 * `dbBuilders(db)` writes rows straight into the database, for tests where the
 * row is only scenery (a student to invoice, a school to be scoped out of).
 * Money is never written directly: invoices and payments only through HTTP,
 * because the ledger keeps running totals that a bare insert would break.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import { daysFromToday } from './dates.js';

/** One answer from the api under test. */
export interface SentResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Sends one request as some caller (the builders never choose who). */
export type Send = <T = any>(
  method: string,
  path: string,
  options?: { body?: unknown; headers?: Record<string, string> },
) => Promise<SentResponse<T>>;

/** An invoice line as `POST /api/invoices` takes it. */
export interface LineInput {
  description: string;
  quantity: number;
  unitAmountMinor: number;
  feeHead?: string;
}

export interface InvoiceInput {
  studentId: string;
  /** One line of this amount, unless `lines` is given. */
  amountMinor?: number;
  lines?: LineInput[];
  /** Defaults to 14 days from today (UTC), so it is open and not yet overdue. */
  dueDate?: string;
  /** Omitted unless given: the api then issues it today in the school's zone. */
  issueDate?: string;
  /** Only a platform admin sends it. */
  schoolId?: string;
  description?: string;
}

export interface PaymentInput {
  method?: 'cash' | 'upi' | 'card' | 'bank_transfer' | 'cheque';
  reference?: string;
  /** A fresh key per call unless given: pass one to test replays. */
  idempotencyKey?: string;
  paidAt?: string;
}

export interface RefundInput {
  reason?: string;
  idempotencyKey?: string;
}

/** A short unique suffix, so rows built twice (or by a rerun) never collide. */
export function uniqueTag(): string {
  return randomUUID().slice(0, 8);
}

let phoneCounter = Math.floor(Math.random() * 8_000_000);

/** A valid Indian mobile number in E.164 no other call in this process returns. */
export function uniquePhone(): string {
  phoneCounter = (phoneCounter + 1) % 10_000_000;
  return `+91981${String(1_000_000 + phoneCounter).padStart(7, '0')}`;
}

/** Throws with the answer unless `status` is what the builder expected: set-up failures name their cause. */
async function expectStatus<T>(what: string, response: Promise<SentResponse<T>>, status: number): Promise<T> {
  const result = await response;
  if (result.status !== status)
    throw new Error(`${what}: expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

function invoiceBody(input: InvoiceInput) {
  return {
    studentId: input.studentId,
    dueDate: input.dueDate ?? daysFromToday(14),
    ...(input.issueDate ? { issueDate: input.issueDate } : {}),
    ...(input.schoolId ? { schoolId: input.schoolId } : {}),
    lines: input.lines ?? [
      {
        description: input.description ?? 'Tuition',
        quantity: 1,
        unitAmountMinor: input.amountMinor ?? 10_000,
      },
    ],
  };
}

/** Builders over HTTP as whoever `send` sends as. Each resolves to the created body, or throws. */
export function httpBuilders(send: Send) {
  const builders = {
    /** `POST /api/schools` (a platform admin's `send`). */
    school: (overrides: Record<string, unknown> = {}) =>
      expectStatus(
        'create school',
        send('POST', '/api/schools', {
          body: { name: `School ${uniqueTag()}`, currency: 'INR', timezone: 'Asia/Kolkata', ...overrides },
        }),
        201,
      ),
    /** `POST /api/classes`. */
    class: (overrides: Record<string, unknown> = {}) =>
      expectStatus(
        'create class',
        send('POST', '/api/classes', {
          body: { name: `Class ${uniqueTag()}`, grade: '1', academicYear: '2026-27', ...overrides },
        }),
        201,
      ),
    /** `POST /api/students`. */
    student: (overrides: Record<string, unknown> = {}) =>
      expectStatus(
        'create student',
        send('POST', '/api/students', {
          body: { firstName: 'Ira', lastName: 'Das', admissionNo: `S-${uniqueTag()}`, ...overrides },
        }),
        201,
      ),
    /** `POST /api/guardians`. */
    guardian: (overrides: Record<string, unknown> = {}) =>
      expectStatus(
        'create guardian',
        send('POST', '/api/guardians', { body: { name: 'Parent', phone: uniquePhone(), ...overrides } }),
        201,
      ),
    /** `POST /api/invoices`, answered as sent (for tests about refusals). */
    invoiceRequest: (input: InvoiceInput) => send('POST', '/api/invoices', { body: invoiceBody(input) }),
    /** `POST /api/invoices`: the created invoice. */
    invoice: (input: InvoiceInput) => expectStatus('create invoice', builders.invoiceRequest(input), 201),
    /** `POST /api/invoices/:id/payments`, answered as sent (replays, refusals, races). */
    paymentRequest: (invoiceId: string, amountMinor: number, input: PaymentInput = {}) =>
      send('POST', `/api/invoices/${invoiceId}/payments`, {
        body: {
          amountMinor,
          method: input.method ?? 'upi',
          ...(input.reference ? { reference: input.reference } : {}),
          ...(input.paidAt ? { paidAt: input.paidAt } : {}),
        },
        headers: { 'idempotency-key': input.idempotencyKey ?? randomUUID() },
      }),
    /** `POST /api/invoices/:id/payments`: the receipt (`payment`, `invoice`, `appliedMinor`, `creditedMinor`). */
    payment: (invoiceId: string, amountMinor: number, input: PaymentInput = {}) =>
      expectStatus('record payment', builders.paymentRequest(invoiceId, amountMinor, input), 201),
    /** `POST /api/payments/:id/refunds`, answered as sent. */
    refundRequest: (paymentId: string, amountMinor: number, input: RefundInput = {}) =>
      send('POST', `/api/payments/${paymentId}/refunds`, {
        body: { amountMinor, reason: input.reason ?? 'Refund in a test' },
        headers: input.idempotencyKey ? { 'idempotency-key': input.idempotencyKey } : undefined,
      }),
    /** `POST /api/payments/:id/refunds`: the refund. */
    refund: (paymentId: string, amountMinor: number, input: RefundInput = {}) =>
      expectStatus('refund payment', builders.refundRequest(paymentId, amountMinor, input), 201),
  };
  return builders;
}

export type HttpBuilders = ReturnType<typeof httpBuilders>;

/** Builders straight into the database, for rows a test needs but is not about. Each resolves to the new id. */
export function dbBuilders(db: Kysely<DB>) {
  return {
    async school(
      overrides: Partial<{ name: string; currency: string; timezone: string; locale: string }> = {},
    ) {
      const row = await db
        .insertInto('schools')
        .values({
          name: `School ${uniqueTag()}`,
          currency: 'INR',
          timezone: 'Asia/Kolkata',
          locale: 'en-IN',
          ...overrides,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
    async class(
      schoolId: string,
      overrides: Partial<{ name: string; grade: string; section: string; academicYear: string }> = {},
    ) {
      const row = await db
        .insertInto('classes')
        .values({ schoolId, name: `Class ${uniqueTag()}`, grade: '1', academicYear: '2026-27', ...overrides })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
    async student(
      schoolId: string,
      overrides: Partial<{
        firstName: string;
        lastName: string;
        admissionNo: string;
        classId: string | null;
        status: string;
      }> = {},
    ) {
      const row = await db
        .insertInto('students')
        .values({
          schoolId,
          firstName: 'Ira',
          lastName: 'Das',
          admissionNo: `S-${uniqueTag()}`,
          ...overrides,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
    async guardian(
      schoolId: string,
      overrides: Partial<{
        name: string;
        phone: string;
        whatsappOptIn: boolean;
        preferredLanguage: string;
      }> = {},
    ) {
      const row = await db
        .insertInto('guardians')
        .values({ schoolId, name: 'Parent', phone: uniquePhone(), ...overrides })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
  };
}

export type DbBuilders = ReturnType<typeof dbBuilders>;
