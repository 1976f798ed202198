import { z } from 'zod';
import { PaymentEvent, PaymentProvider } from './online-payments.js';
import {
  AmountMinor,
  CurrencyCode,
  Id,
  IsoDate,
  IsoDateTime,
  MAX_AMOUNT_MINOR,
  PaginationQuery,
  PositiveAmountMinor,
  paginated,
} from './common.js';
import { NON_EMPTY_PATCH } from './list.js';

/**
 * Derived, never stored: `pending` nothing paid; `partial` some paid; `paid`
 * nothing left; `overdue` something left after the due date (in the school's
 * time zone, or the statement's `asOf`); `void` cancelled.
 */
export const InvoiceStatus = z.enum(['pending', 'partial', 'paid', 'overdue', 'void']);
export type InvoiceStatus = z.infer<typeof InvoiceStatus>;

/** A charge line as a client sends it; `amountMinor` is computed (quantity × unit). */
export const InvoiceLineInput = z.strictObject({
  description: z.string().trim().min(1).max(200),
  feeHead: z.string().trim().min(1).max(80).optional(),
  quantity: z.number().int().min(1).max(10_000),
  unitAmountMinor: PositiveAmountMinor,
});
export type InvoiceLineInput = z.infer<typeof InvoiceLineInput>;

/**
 * An invoice's lines (1 to 100). Their total is one money amount, so it is
 * held to MAX_AMOUNT_MINOR like any other: 10,000 × the largest unit amount
 * would not fit a JavaScript number (a 500 on every later read of the invoice).
 */
export const InvoiceLinesInput = z
  .array(InvoiceLineInput)
  .min(1)
  .max(100)
  .refine(
    (lines) =>
      lines.reduce((sum, line) => sum + BigInt(line.quantity) * BigInt(line.unitAmountMinor), 0n) <=
      BigInt(MAX_AMOUNT_MINOR),
    {
      message: `the invoice total may not exceed ${MAX_AMOUNT_MINOR} minor units`,
      // Only over valid lines: BigInt() throws on a fractional quantity.
      when: (payload) => payload.issues.length === 0,
    },
  )
  .meta({
    description: `1 to 100 lines whose total (quantity × unitAmountMinor, summed) is at most ${MAX_AMOUNT_MINOR} minor units.`,
  });

/** `POST /api/invoices`. `schoolId` only from a platform admin; the number and totals are the server's. */
export const CreateInvoiceBody = z.strictObject({
  studentId: Id,
  dueDate: IsoDate,
  /** Defaults to today in the school's time zone. */
  issueDate: IsoDate.optional(),
  lines: InvoiceLinesInput,
  notes: z.string().trim().max(2000).optional(),
  schoolId: Id.optional(),
});
export type CreateInvoiceBody = z.infer<typeof CreateInvoiceBody>;

/** `PATCH /api/invoices/:id`: lines only while nothing has been paid (409 after). */
export const UpdateInvoiceBody = z
  .strictObject({
    dueDate: IsoDate.optional(),
    lines: InvoiceLinesInput.optional(),
    notes: z.string().trim().max(2000).nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'send at least one field to change')
  .meta({ ...NON_EMPTY_PATCH });
export type UpdateInvoiceBody = z.infer<typeof UpdateInvoiceBody>;

/** `POST /api/invoices/:id/void`. */
export const VoidInvoiceBody = z.strictObject({ reason: z.string().trim().min(3).max(500) });
export type VoidInvoiceBody = z.infer<typeof VoidInvoiceBody>;

export const InvoiceLine = z.object({
  description: z.string(),
  feeHead: z.string().nullable(),
  quantity: z.number().int(),
  unitAmountMinor: AmountMinor,
  amountMinor: AmountMinor,
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

/** An invoice with server-computed totals. `creditMinor` is the student's unapplied credit. */
export const Invoice = z.object({
  id: Id,
  schoolId: Id,
  studentId: Id,
  number: z.string(),
  currency: CurrencyCode,
  issueDate: IsoDate,
  dueDate: IsoDate,
  notes: z.string().nullable(),
  lines: z.array(InvoiceLine),
  totalMinor: AmountMinor,
  paidMinor: AmountMinor,
  refundedMinor: AmountMinor,
  balanceMinor: AmountMinor,
  creditMinor: AmountMinor,
  status: InvoiceStatus,
  feePlanId: Id.nullable(),
  instalmentId: Id.nullable(),
  voidedAt: IsoDateTime.nullable(),
  voidReason: z.string().nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Invoice = z.infer<typeof Invoice>;

export const InvoiceSort = z.enum(['dueDate', '-dueDate', 'number', '-number', 'createdAt', '-createdAt']);

/** `GET /api/invoices` filters. */
export const ListInvoicesQuery = PaginationQuery.extend({
  studentId: Id.optional(),
  status: InvoiceStatus.optional(),
  dueFrom: IsoDate.optional(),
  dueTo: IsoDate.optional(),
  schoolId: Id.optional(),
  sort: InvoiceSort.default('-createdAt'),
}).strict();
export type ListInvoicesQuery = z.infer<typeof ListInvoicesQuery>;

/** `GET /api/invoices`. */
export const InvoiceList = paginated(Invoice);

export const PaymentMethod = z.enum(['cash', 'bank_transfer', 'upi', 'card', 'cheque', 'online']);
export type PaymentMethod = z.infer<typeof PaymentMethod>;

/**
 * `POST /api/invoices/:id/payments` (with an `Idempotency-Key` header). More
 * than the balance is accepted: the excess becomes the student's credit.
 */
export const CreatePaymentBody = z.strictObject({
  amountMinor: PositiveAmountMinor,
  method: PaymentMethod,
  reference: z.string().trim().min(1).max(120).optional(),
  /** When the money was received; defaults to now and may not be in the future. */
  paidAt: IsoDateTime.refine(
    (value) => Date.parse(value) <= Date.now() + 5 * 60_000,
    'cannot be in the future',
  )
    .refine((value) => Date.parse(value) >= Date.UTC(2000, 0, 1), 'must be in 2000 or later')
    .meta({
      description:
        'When the money was received, with an offset; in 2000 or later and not in the future ' +
        '(five minutes of clock difference are allowed). Defaults to now.',
    })
    .optional(),
});
export type CreatePaymentBody = z.infer<typeof CreatePaymentBody>;

/** The `Idempotency-Key` header: 8–128 visible ASCII characters, unique per payment attempt. */
export const IdempotencyKeyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{8,128}$/, 'send an Idempotency-Key header of 8 to 128 visible ASCII characters'),
});

/**
 * Refunds take an optional `Idempotency-Key`: with one, a retried refund is
 * applied once and replays its first answer. Clients should always send it.
 */
export const OptionalIdempotencyKeyHeader = z.object({
  'idempotency-key': IdempotencyKeyHeader.shape['idempotency-key'].optional(),
});

export const Refund = z.object({
  id: Id,
  paymentId: Id,
  amountMinor: AmountMinor,
  /** How much came out of the student's credit rather than reopening an invoice. */
  fromCreditMinor: AmountMinor,
  reason: z.string(),
  createdAt: IsoDateTime,
});
export type Refund = z.infer<typeof Refund>;

export const Payment = z.object({
  id: Id,
  schoolId: Id,
  invoiceId: Id,
  studentId: Id,
  amountMinor: AmountMinor,
  refundedMinor: AmountMinor,
  currency: CurrencyCode,
  method: PaymentMethod,
  reference: z.string().nullable(),
  paidAt: IsoDateTime,
  createdAt: IsoDateTime,
  refunds: z.array(Refund),
  /** For online payments: the provider and its payment id (`pay_…`, `pi_…`); null for manual ones. */
  provider: PaymentProvider.nullable(),
  providerPaymentId: z.string().nullable(),
  /** Every provider event about this payment, oldest first (empty for manual payments). */
  events: z.array(PaymentEvent),
});
export type Payment = z.infer<typeof Payment>;

/** `GET /api/invoices/:id/payments`: every payment on the invoice, oldest first (not paginated). */
export const InvoicePaymentList = z.object({ data: z.array(Payment) });
export type InvoicePaymentList = z.infer<typeof InvoicePaymentList>;

/** Answer of `POST /api/invoices/:id/payments`: the payment, how it was applied, and the invoice after it. */
export const PaymentReceipt = z.object({
  payment: Payment,
  appliedMinor: AmountMinor,
  creditedMinor: AmountMinor,
  invoice: Invoice,
});
export type PaymentReceipt = z.infer<typeof PaymentReceipt>;

/** `POST /api/payments/:id/refunds`: never more than the payment's unrefunded amount (409). */
export const CreateRefundBody = z.strictObject({
  amountMinor: PositiveAmountMinor,
  reason: z.string().trim().min(3).max(500),
});
export type CreateRefundBody = z.infer<typeof CreateRefundBody>;

/** Account totals; `balanceMinor` is owed, `creditMinor` is held for the family. */
export const Totals = z.object({
  invoicedMinor: AmountMinor,
  paidMinor: AmountMinor,
  refundedMinor: AmountMinor,
  balanceMinor: AmountMinor,
  creditMinor: AmountMinor,
});
export type Totals = z.infer<typeof Totals>;

/** `GET /api/students/:id/statement`: `from`/`to` bound the invoices listed (by issue date); totals cover the whole account. */
export const StudentStatementQuery = z.strictObject({
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  asOf: IsoDate.optional(),
});
export type StudentStatementQuery = z.infer<typeof StudentStatementQuery>;

/** A payment as a statement lists it: the money, not its provider's event history. */
export const StatementPayment = Payment.omit({
  schoolId: true,
  studentId: true,
  currency: true,
  createdAt: true,
  provider: true,
  providerPaymentId: true,
  events: true,
});

export const StudentStatement = z.object({
  student: z.object({
    id: Id,
    schoolId: Id,
    firstName: z.string(),
    lastName: z.string(),
    admissionNo: z.string(),
    classId: Id.nullable(),
    status: z.string(),
  }),
  currency: CurrencyCode,
  asOf: IsoDate,
  totals: Totals,
  invoices: z.array(
    z.object({
      id: Id,
      number: z.string(),
      issueDate: IsoDate,
      dueDate: IsoDate,
      totalMinor: AmountMinor,
      paidMinor: AmountMinor,
      refundedMinor: AmountMinor,
      balanceMinor: AmountMinor,
      status: InvoiceStatus,
      payments: z.array(StatementPayment),
    }),
  ),
});
export type StudentStatement = z.infer<typeof StudentStatement>;

export const SchoolStatementQuery = PaginationQuery.extend({
  asOf: IsoDate.optional(),
  sort: z.enum(['-balance', 'balance', 'name', 'admissionNo']).default('-balance'),
}).strict();
export type SchoolStatementQuery = z.infer<typeof SchoolStatementQuery>;

/** Open balances by days overdue as of the statement's `asOf` (current = not yet past due). */
export const Aging = z.object({
  current: AmountMinor,
  days1To30: AmountMinor,
  days31To60: AmountMinor,
  days61To90: AmountMinor,
  days90Plus: AmountMinor,
});

export const StudentBalance = z.object({
  id: Id,
  firstName: z.string(),
  lastName: z.string(),
  admissionNo: z.string(),
  classId: Id.nullable(),
  status: z.string(),
  invoicedMinor: AmountMinor,
  paidMinor: AmountMinor,
  refundedMinor: AmountMinor,
  balanceMinor: AmountMinor,
  creditMinor: AmountMinor,
});

/** `GET /api/schools/:id/statement`. */
export const SchoolStatement = z.object({
  schoolId: Id,
  currency: CurrencyCode,
  asOf: IsoDate,
  studentsCount: z.number().int(),
  totals: Totals,
  aging: Aging,
  students: paginated(StudentBalance),
});
export type SchoolStatement = z.infer<typeof SchoolStatement>;

const Percent = z
  .number()
  .min(0)
  .max(100)
  .multipleOf(0.01)
  // Not `multipleOf: 0.01` in the document: binary floating point makes validators disagree on it.
  .meta({ description: 'A percentage from 0 to 100 with at most two decimal places (`33.33`).' });

/** `POST /api/fee-plans`: annual fee heads, split into instalments by percentage (summing to 100). */
export const CreateFeePlanBody = z
  .strictObject({
    name: z.string().trim().min(1).max(120),
    academicYear: z
      .string()
      .regex(/^\d{4}-\d{2}$/, 'like 2026-27')
      .meta({ description: 'The academic year the plan is for, `YYYY-YY` (`2026-27`).' }),
    siblingDiscountPercent: Percent.optional(),
    heads: z
      .array(z.strictObject({ name: z.string().trim().min(1).max(80), amountMinor: PositiveAmountMinor }))
      .min(1)
      .max(50)
      .meta({
        description: `1 to 50 fee heads; their names are unique, ignoring case, and their amounts add up to at most ${MAX_AMOUNT_MINOR} minor units.`,
      }),
    instalments: z
      .array(
        z.strictObject({
          label: z.string().trim().min(1).max(80),
          dueDate: IsoDate,
          sharePercent: Percent.positive(),
        }),
      )
      .min(1)
      .max(24)
      .meta({
        description:
          '1 to 24 instalments whose `sharePercent` values add up to exactly 100 (to the ' +
          'hundredth: `33.33 + 33.33 + 33.34`).',
      }),
    schoolId: Id.optional(),
  })
  .refine(
    (body) => body.instalments.reduce((sum, i) => sum + Math.round(i.sharePercent * 100), 0) === 10_000,
    {
      message: 'instalment shares must add up to 100',
      path: ['instalments'],
    },
  )
  .refine((body) => new Set(body.heads.map((h) => h.name.toLowerCase())).size === body.heads.length, {
    message: 'fee head names must be unique',
    path: ['heads'],
  })
  // Every invoice the plan issues is a share of the heads' sum, so holding the sum to the
  // cap POST /api/invoices enforces keeps each issued invoice within it too.
  .refine(
    (body) =>
      body.heads.reduce((sum, head) => sum + BigInt(head.amountMinor), 0n) <= BigInt(MAX_AMOUNT_MINOR),
    {
      message: `the fee heads together may not exceed ${MAX_AMOUNT_MINOR} minor units`,
      path: ['heads'],
      when: (payload) => payload.issues.length === 0,
    },
  );
export type CreateFeePlanBody = z.infer<typeof CreateFeePlanBody>;

export const FeePlan = z.object({
  id: Id,
  schoolId: Id,
  name: z.string(),
  academicYear: z.string(),
  siblingDiscountPercent: z.number(),
  heads: z.array(z.object({ name: z.string(), amountMinor: AmountMinor })),
  instalments: z.array(z.object({ id: Id, label: z.string(), dueDate: IsoDate, sharePercent: z.number() })),
  annualTotalMinor: AmountMinor,
  createdAt: IsoDateTime,
});
export type FeePlan = z.infer<typeof FeePlan>;

/** `GET /api/fee-plans`. */
export const FeePlanList = paginated(FeePlan);

/** `POST /api/fee-plans/:id/issue`: a whole class or a list of students (exactly one). */
export const IssueFeePlanBody = z
  .strictObject({
    classId: Id.optional(),
    studentIds: z.array(Id).min(1).max(5_000).optional(),
    issueDate: IsoDate.optional(),
  })
  .refine((body) => (body.classId === undefined) !== (body.studentIds === undefined), {
    message: 'send either classId or studentIds',
    path: ['classId'],
  })
  .meta({
    description: 'Exactly one of `classId` (every active student of the class) and `studentIds`.',
    oneOf: [{ required: ['classId'] }, { required: ['studentIds'] }],
  });
export type IssueFeePlanBody = z.infer<typeof IssueFeePlanBody>;

export const IssueFeePlanResult = z.object({
  createdCount: z.number().int(),
  skippedCount: z.number().int(),
  invoiceIds: z.array(Id),
});
export type IssueFeePlanResult = z.infer<typeof IssueFeePlanResult>;

export const ListQuery = PaginationQuery.extend({ schoolId: Id.optional() }).strict();

/** `GET /api/audit`. */
export const AuditQuery = PaginationQuery.extend({
  entityType: z.string().min(1).max(40).optional(),
  entityId: z.string().min(1).max(80).optional(),
  schoolId: Id.optional(),
}).strict();
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditEntry = z.object({
  id: z.number().int(),
  schoolId: Id.nullable(),
  actorId: Id.nullable(),
  actorRole: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  createdAt: IsoDateTime,
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** `GET /api/audit`: newest first. */
export const AuditList = paginated(AuditEntry);
