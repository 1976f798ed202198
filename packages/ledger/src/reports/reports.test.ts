/**
 * The KPI reports held to an independent recomputation. A school in
 * Europe/Madrid gets five months of history through the ledger's own
 * functions, each at its own instant under a faked clock: monthly invoices
 * with several fee heads for two classes and a student without one, payments
 * on time, late, in part and over (credit that moves on, also onto invoices
 * issued ahead), back-dated payments, payments next to local midnight on both
 * sides of a clock change, refunds, and voids of paid invoices. Another
 * school gets the same kind of history on the same days and must never show.
 *
 * Every report is then compared with what `reports.testing.ts` works out in
 * plain TypeScript from the rows read back whole, by the documented rules.
 */
import { CreateReportBody, type ReportGranularity } from '@bursar/contracts';
import { addDays, dbBuilders, freshDatabase, localDate } from '@bursar/test-support';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  agingReport,
  collectionsReport,
  computeReport,
  forecastReport,
  REPORTS,
  resolveReportParams,
  type ReportTable,
} from '../index.js';
import {
  addMonths,
  applySteps,
  expectedAging,
  expectedCollections,
  expectedForecast,
  nextPeriodStart,
  offsetMinutes,
  periodStartOf,
  piece,
  randomSteps,
  readLedger,
  timelineBefore,
  zonedInstant,
  type LedgerRows,
  type Narrowing,
  type Step,
  type ScenarioStudent,
  type StudentSpec,
} from './reports.testing.js';

const TZ = 'Europe/Madrid';
const GRANULARITIES: ReportGranularity[] = ['day', 'week', 'month', 'term'];

describe('KPI reports against a recomputation from the rows', async () => {
  const { db } = await freshDatabase();
  const timeline = timelineBefore(localDate(TZ), TZ);
  const { dst, start, end: today } = timeline;
  const month = timeline.months;
  const at = (day: string, time: string) => zonedInstant(day, time, TZ);
  const lastDayOf = (m: number) => addDays(addMonths(month[m]!, 1), -1);

  const school = { a: '', b: '', empty: '' };
  const classes = new Map<string, string>();
  const studentsA = new Map<string, string>();
  let rows: LedgerRows;

  /** Students of the school under test: three in Alpha, four in Beta, one in no class (billed ahead, due the 20th). */
  const specsA: (ScenarioStudent & { handPlacedOnly?: boolean })[] = [
    { key: 'a1', firstName: 'Ana', lastName: 'Alvarez', classKey: 'alpha' },
    { key: 'a2', firstName: 'Bruno', lastName: 'Blanco', classKey: 'alpha' },
    { key: 'a3', firstName: 'Carla', lastName: 'Castro', classKey: 'alpha' },
    { key: 'b1', firstName: 'Diego', lastName: 'Diaz', classKey: 'beta' },
    { key: 'b2', firstName: 'Elena', lastName: 'Esteban', classKey: 'beta', discounted: true },
    { key: 'b3', firstName: 'Fabio', lastName: 'Castro', classKey: 'beta' },
    { key: 'n1', firstName: 'Gala', lastName: 'Garcia', dueDay: 20, ahead: true },
    // Only the hand-placed void below, so no credit of theirs moves the amounts it checks.
    { key: 'b4', firstName: 'Hector', lastName: 'Herrero', classKey: 'beta', handPlacedOnly: true },
  ];
  const specsB: StudentSpec[] = [
    { key: 'x1', firstName: 'Hugo', lastName: 'Herrera', classKey: 'other' },
    { key: 'x2', firstName: 'Ines', lastName: 'Iglesias', classKey: 'other' },
    { key: 'x3', firstName: 'Juan', lastName: 'Jimenez' },
  ];

  /** Events placed by hand where the rules are easiest to get wrong. */
  function handPlacedSteps(): Step[] {
    const line = (feeHead: string | null, unitAmountMinor: bigint, quantity = 1) => ({
      description: feeHead ?? 'Books',
      feeHead,
      quantity,
      unitAmountMinor,
    });
    const issue = (
      key: string,
      student: string,
      issueDate: string,
      dueDate: string,
      lines: ReturnType<typeof line>[],
      entered = at(issueDate, '09:00:00'),
    ): Step => ({
      kind: 'issue',
      key,
      at: entered,
      student,
      issueDate,
      dueDate,
      lines,
    });
    const pay = (key: string, invoice: string, amount: bigint, paidAt: Date, entered = paidAt): Step => ({
      kind: 'pay',
      key,
      at: entered,
      invoice,
      amount,
      paidAt,
    });
    return [
      // A trip paid in three parts: 23:30 on a month's last day, 00:30 and 00:00:00 on firsts;
      // part of the first refunded at 00:30 on a first.
      issue('trip', 'a1', addDays(month[0]!, 4), addDays(month[1]!, 2), [
        line('Trip', 12_345n),
        line('Transport', 2_222n),
      ]),
      pay('trip-p0', 'trip', 4_000n, at(lastDayOf(0), '23:30:00')),
      pay('trip-p1', 'trip', 3_000n, at(month[1]!, '00:30:00')),
      pay('trip-p2', 'trip', 1_234n, at(month[2]!, '00:00:00')),
      { kind: 'refund', at: at(month[2]!, '00:30:00'), payment: 'trip-p0', amount: 1_500n },
      // An excursion paid around the clock change: 23:30 the night before, 00:30 and 23:30 on
      // the Sunday it changes (the last day of an ISO week), 00:30 on the Monday.
      issue('excursion', 'b3', addDays(dst, -10), addDays(dst, 5), [
        line('Tuition', 20_000n),
        line('Lunch', 1_350n, 3),
        line('Excursión', 777n),
        line(null, 1_000n),
      ]),
      pay('excursion-p0', 'excursion', 2_000n, at(addDays(dst, -1), '23:30:00')),
      pay('excursion-p1', 'excursion', 2_000n, at(dst, '00:30:00')),
      pay('excursion-p2', 'excursion', 2_000n, at(dst, '23:30:00')),
      pay('excursion-p3', 'excursion', 2_000n, at(addDays(dst, 1), '00:30:00')),
      // Cash taken two days before the invoice was issued, typed in the day after it was
      // (a uniform is on this invoice alone).
      issue('early', 'a2', addDays(month[3]!, 3), addDays(month[3]!, 20), [
        line('Tuition', 15_000n),
        line('Transport', 4_444n),
        line('Uniform', 2_345n),
      ]),
      pay(
        'early-p0',
        'early',
        6_000n,
        at(addDays(month[3]!, -2), '11:00:00'),
        at(addDays(month[3]!, 4), '10:00:00'),
      ),
      // Paid in full, partly refunded at 00:30, voided at 23:30 on a month's last day (a locker
      // is on this invoice alone).
      issue('voided', 'b4', addDays(month[1]!, 1), addDays(month[1]!, 12), [
        line('Tuition', 31_001n),
        line('Transport', 7_333n),
        line('Lunch', 1_351n, 3),
        line('lab', 1n),
        line('Locker', 1_234n),
      ]),
      pay('voided-p0', 'voided', 43_622n, at(addDays(month[1]!, 10), '12:00:00')),
      { kind: 'refund', at: at(addDays(month[1]!, 15), '00:30:00'), payment: 'voided-p0', amount: 10_001n },
      { kind: 'void', at: at(lastDayOf(1), '23:30:00'), invoice: 'voided' },
      // Paid in full at 00:30 and voided just after a month ends: the money becomes credit and moves on.
      issue('paid-void', 'a3', addDays(month[2]!, 2), addDays(month[2]!, 12), [
        line('Tuition', 18_000n),
        line('lab', 2_000n),
      ]),
      pay('paid-void-p0', 'paid-void', 20_000n, at(addDays(month[2]!, 5), '00:30:00')),
      { kind: 'void', at: at(addDays(month[3]!, 1), '00:30:00'), invoice: 'paid-void' },
      // An overpayment by the student billed ahead: the credit lands on invoices not yet issued.
      pay('n1-over', 'n1-m0', 80_000n, at(addDays(month[0]!, 14), '13:00:00')),
      // Long-dated fees, so the forecast's 60 and 90 days have something, with one-unit lines.
      ...(['a1', 'a2', 'a3'] as const).map((student) =>
        issue(`lab-${student}`, student, addDays(month[0]!, 2), addDays(month[0]!, 75), [
          line('lab', 9_999n),
          line('Tuition', 1n),
        ]),
      ),
      pay('lab-a1-p0', 'lab-a1', 10_000n, at(addDays(month[0]!, 75), '23:30:00')),
      pay('lab-a2-p0', 'lab-a2', 5_000n, at(addDays(month[0]!, 76), '00:30:00')),
      ...(['b1', 'b2', 'b3'] as const).map((student) =>
        issue(`bus-${student}`, student, month[1]!, addDays(month[1]!, 50), [
          line('Transport', 21_999n),
          line(null, 1n),
        ]),
      ),
      pay('bus-b1-p0', 'bus-b1', 22_000n, at(addDays(month[1]!, 50), '23:59:59')),
      pay('bus-b2-p0', 'bus-b2', 22_000n, at(addDays(month[1]!, 64), '08:00:00')),
    ];
  }

  async function seed() {
    const builders = dbBuilders(db);
    school.a = await builders.school({
      name: 'Colegio Madrid',
      currency: 'EUR',
      timezone: TZ,
      locale: 'es-ES',
    });
    school.b = await builders.school({
      name: 'Otro Colegio',
      currency: 'EUR',
      timezone: TZ,
      locale: 'es-ES',
    });
    school.empty = await builders.school({
      name: 'Colegio Vacío',
      currency: 'EUR',
      timezone: TZ,
      locale: 'es-ES',
    });
    classes.set('alpha', await builders.class(school.a, { name: 'Alpha' }));
    classes.set('beta', await builders.class(school.a, { name: 'Beta' }));
    // The other school's class has the same name as one of ours.
    classes.set('other', await builders.class(school.b, { name: 'Alpha' }));
    await builders.student(school.empty, { classId: await builders.class(school.empty, { name: 'Alpha' }) });
    const studentsB = new Map<string, string>();
    for (const [schoolId, specs, ids] of [
      [school.a, specsA, studentsA],
      [school.b, specsB, studentsB],
    ] as const) {
      for (const [index, spec] of specs.entries()) {
        ids.set(
          spec.key,
          await builders.student(schoolId, {
            firstName: spec.firstName,
            lastName: spec.lastName,
            admissionNo: `${spec.key.toUpperCase()}-${index + 1}`,
            classId: spec.classKey ? classes.get(spec.classKey)! : null,
          }),
        );
      }
    }
    const setClock = (instant: Date) => vi.setSystemTime(instant);
    await applySteps(
      db,
      school.a,
      studentsA,
      [
        ...randomSteps(
          timeline,
          specsA.filter((spec) => !spec.handPlacedOnly),
          20260329,
        ),
        ...handPlacedSteps(),
      ],
      setClock,
    );
    await applySteps(db, school.b, studentsB, randomSteps(timeline, specsB, 7), setClock);
    // The reports are read at the end of the last day, local time.
    vi.setSystemTime(at(today, '18:00:00'));
  }

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at(addDays(start, -10), '09:00:00'));
    await seed();
    rows = await readLedger(db, school.a);
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  const alpha = () => classes.get('alpha')!;
  const beta = () => classes.get('beta')!;
  /** The narrowings every report is checked under. */
  const narrowings = (): Narrowing[] => [
    {},
    { classId: alpha() },
    { classId: beta() },
    { feeHead: 'Tuition' },
    { feeHead: 'Transport' },
    { feeHead: 'lab' },
    { feeHead: 'Lunch' },
    { feeHead: 'Excursión' },
    { classId: beta(), feeHead: 'Lunch' },
    { classId: alpha(), feeHead: 'Trip' },
  ];
  const describeInput = (input: object) => JSON.stringify(input);

  it('builds the history the reports are checked on', () => {
    const kinds = new Set(rows.allocations.map((a) => a.kind));
    expect([...kinds].sort()).toEqual(['credit', 'payment', 'refund', 'void']);
    // The clock changes inside the history: 00:30 and 23:30 on that Sunday have different offsets.
    expect(offsetMinutes(at(dst, '00:30:00'), TZ)).not.toBe(offsetMinutes(at(dst, '23:30:00'), TZ));
    expect(localDate(TZ, at(dst, '23:30:00'))).toBe(dst);
    expect(localDate(TZ, at(addDays(dst, 1), '00:30:00'))).toBe(addDays(dst, 1));
    const invoice = (id: string) => rows.invoices.find((row) => row.id === id)!;
    // Money counted on invoices before they were issued: a payment taken early, credit on invoices billed ahead.
    expect(rows.payments.some((p) => localDate(TZ, p.paidAt) < invoice(p.invoiceId).issueDate)).toBe(true);
    expect(
      rows.allocations.some(
        (a) => a.kind === 'credit' && localDate(TZ, a.effectiveAt) < invoice(a.invoiceId).issueDate,
      ),
    ).toBe(true);
    // Voids of invoices that had been paid, one of them partly refunded first.
    const voided = rows.invoices.filter((row) => row.voidedAt);
    expect(
      voided.filter((row) => rows.allocations.some((a) => a.invoiceId === row.id && a.kind === 'void'))
        .length,
    ).toBeGreaterThanOrEqual(2);
    expect(rows.refunds.length).toBeGreaterThanOrEqual(3);
    expect(rows.invoices.length).toBeGreaterThan(40);
    expect(new Set(rows.lines.map((line) => line.feeHead))).toEqual(
      new Set(['Tuition', 'Transport', 'lab', 'Lunch', 'Trip', 'Excursión', 'Uniform', 'Locker', null]),
    );
  });

  it('collections: every period of every granularity and narrowing is the recomputation', async () => {
    const ranges = [
      { from: start, to: today },
      // Cut at both ends: the first and last periods are partial.
      { from: addDays(start, 17), to: addDays(today, -9) },
      { from: addDays(dst, -6), to: addDays(dst, 8) },
    ];
    for (const range of ranges) {
      for (const granularity of GRANULARITIES) {
        for (const narrowing of narrowings()) {
          const input = { schoolId: school.a, ...range, granularity, ...narrowing };
          const report = await collectionsReport(db, input);
          expect(report, describeInput(input)).toEqual(expectedCollections(rows, input));
        }
      }
    }
  });

  it('collections: a payment at 23:30 or 00:30 falls on its local day, on both sides of the clock change', async () => {
    const around = await collectionsReport(db, {
      schoolId: school.a,
      from: addDays(dst, -2),
      to: addDays(dst, 2),
      granularity: 'day',
      feeHead: 'Excursión',
    });
    // The excursion's head holds 777 of its 25,827; each 2,000 paid brings it trunc(2000·hi/total) − trunc(2000·lo/total).
    const excursion = rows.invoices.find((row) =>
      rows.lines.some((l) => l.invoiceId === row.id && l.feeHead === 'Excursión'),
    )!;
    expect(excursion.totalMinor).toBe(25_827n);
    const each = Number(piece(2_000n, { lo: 1_000n, hi: 1_777n }, 25_827n));
    expect(around.periods.map((p) => [p.start, p.payments, p.collectedMinor])).toEqual([
      [addDays(dst, -2), 0, 0],
      [addDays(dst, -1), 1, each],
      [dst, 2, 2 * each],
      [addDays(dst, 1), 1, each],
      [addDays(dst, 2), 0, 0],
    ]);
    // The Sunday closes an ISO week; the Monday's 00:30 starts the next one.
    const weeks = await collectionsReport(db, {
      schoolId: school.a,
      from: addDays(dst, -6),
      to: addDays(dst, 7),
      granularity: 'week',
      feeHead: 'Excursión',
    });
    expect(weeks.periods.map((p) => [p.start, p.end, p.payments])).toEqual([
      [addDays(dst, -6), dst, 3],
      [addDays(dst, 1), addDays(dst, 7), 1],
    ]);
    // The trip: 23:30 on a month's last day is that month's; 00:30 and 00:00:00 on a first are the new month's.
    const trip = await collectionsReport(db, {
      schoolId: school.a,
      from: month[0]!,
      to: lastDayOf(2),
      granularity: 'month',
      feeHead: 'Trip',
    });
    expect(trip.periods.map((p) => [p.start, p.payments, p.refundedMinor > 0])).toEqual([
      [month[0], 1, false],
      [month[1], 1, false],
      [month[2], 1, true],
    ]);
  });

  it('collections: money that reached an invoice before its issue day counts from that day; a void invoice leaves nothing', async () => {
    // The uniform's head holds 2,345 of 21,789, after Transport and Tuition (19,444): its piece of the 6,000 is 646.
    const uniform = { lo: 19_444n, hi: 21_789n };
    expect(piece(6_000n, uniform, 21_789n)).toBe(646n);
    const early = await collectionsReport(db, {
      schoolId: school.a,
      from: addDays(month[3]!, -3),
      to: addDays(month[3]!, 3),
      granularity: 'day',
      feeHead: 'Uniform',
    });
    expect(early.periods.map((p) => [p.start, p.collectedMinor])).toEqual(
      [-3, -2, -1, 0, 1, 2, 3].map((days) => [addDays(month[3]!, days), days === -2 ? 646 : 0]),
    );
    // Paid two days before it was issued: not on the books (nothing owed, nothing paid off) until its issue day.
    expect(early.periods.slice(0, -1).map((p) => p.outstandingMinor)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(early.periods.at(-1)!.outstandingMinor).toBeLessThanOrEqual(2_345 - 646);
    expect(early.periods.at(-1)!.outstandingMinor).toBeGreaterThanOrEqual(0);
    // The locker was paid, partly refunded and voided: from the day of the void it owes nothing,
    // though the head's pieces of the payment, refund and void add up to one unit less than its
    // piece of the total (1,234 − 282 vs 951).
    const lockerPiece = (x: bigint) => piece(x, { lo: 0n, hi: 1_234n }, 43_622n);
    expect([lockerPiece(43_622n), lockerPiece(-10_001n), lockerPiece(-33_621n)]).toEqual([
      1_234n,
      -282n,
      -951n,
    ]);
    const locker = await collectionsReport(db, {
      schoolId: school.a,
      from: month[1]!,
      to: today,
      granularity: 'month',
      feeHead: 'Locker',
    });
    expect(locker.periods.map((p) => p.outstandingMinor)).toEqual([0, 0, 0, 0]);
    expect(locker.totals.refundedMinor).toBe(282);
    expect(locker.totals.collectedMinor).toBe(1_234);
  });

  it('collections: an empty range and a school without data answer zeros in every period', async () => {
    const zeros = {
      invoicedMinor: 0,
      collectedMinor: 0,
      refundedMinor: 0,
      netCollectedMinor: 0,
      dueMinor: 0,
      collectionRatePercent: null,
      outstandingMinor: 0,
      avgDaysToPay: null,
      payments: 0,
    };
    for (const granularity of GRANULARITIES) {
      const before = await collectionsReport(db, {
        schoolId: school.a,
        from: addDays(start, -70),
        to: addDays(start, -1),
        granularity,
      });
      expect(before.periods.length).toBeGreaterThan(0);
      for (const period of before.periods)
        expect(period).toEqual({ start: period.start, end: period.end, ...zeros });
      expect(before.totals).toEqual(zeros);
      const empty = await collectionsReport(db, {
        schoolId: school.empty,
        from: start,
        to: today,
        granularity,
      });
      expect(empty).toEqual(
        expectedCollections(await readLedger(db, school.empty), { from: start, to: today, granularity }),
      );
      for (const period of empty.periods)
        expect(period).toEqual({ start: period.start, end: period.end, ...zeros });
    }
  });

  /** Days to read point-in-time reports on: each before later payments, refunds, credit moves and voids. */
  const pastDays = () => [
    addDays(start, -1),
    addDays(month[0]!, 12),
    lastDayOf(0),
    addDays(month[1]!, 14),
    lastDayOf(1),
    addDays(dst, -1),
    dst,
    addDays(month[3]!, -1),
    addDays(month[3]!, 2),
    addDays(month[4]!, -1),
    addDays(today, -20),
    today,
  ];

  it('aging: as of today and of past days, every narrowing is the recomputation', async () => {
    for (const asOf of pastDays()) {
      for (const narrowing of narrowings()) {
        const input = { schoolId: school.a, asOf, ...narrowing };
        expect(await agingReport(db, input), describeInput(input)).toEqual(expectedAging(rows, input));
      }
    }
    const empty = await agingReport(db, { schoolId: school.empty, asOf: today });
    expect(empty).toMatchObject({ byClass: [], byFeeHead: [], defaulters: [] });
    expect(Object.values(empty.buckets).every((value) => value === 0)).toBe(true);
  });

  it('aging: around a void, and the defaulters most overdue first', async () => {
    // Around the void of the partly refunded invoice (23:30 on a month's last day), the day before and the day itself.
    for (const asOf of [addDays(lastDayOf(1), -1), lastDayOf(1)]) {
      expect(await agingReport(db, { schoolId: school.a, asOf })).toEqual(expectedAging(rows, { asOf }));
    }
    // Defaulters come most overdue first.
    const { defaulters } = await agingReport(db, { schoolId: school.a, asOf: today });
    expect(defaulters.length).toBeGreaterThan(2);
    const overdue = defaulters.map((row) => row.overdueMinor);
    expect(overdue).toEqual([...overdue].sort((a, b) => b - a));
  });

  it('aging, forecast and collections default to today in the school’s zone and refuse a later day', async () => {
    const params = await resolveReportParams(db, { kind: 'aging', schoolId: school.a });
    expect(params.asOf).toBe(today);
    expect(await computeReport(db, params)).toEqual(expectedAging(rows, { asOf: today }));
    const collections = await resolveReportParams(db, {
      kind: 'collections',
      schoolId: school.a,
      from: month[1]!,
      to: today,
      granularity: 'week',
    });
    expect(collections.asOf).toBe(today);
    expect(await computeReport(db, collections)).toEqual(
      expectedCollections(rows, { from: month[1]!, to: today, granularity: 'week' }),
    );
    await expect(
      resolveReportParams(db, { kind: 'forecast', schoolId: school.a, asOf: addDays(today, 1) }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      resolveReportParams(db, { kind: 'aging', schoolId: school.a, classId: classes.get('other')! }),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('forecast: horizons and per-class rates, as of today and past days, are the recomputation', async () => {
    for (const asOf of [addDays(start, -1), addDays(month[0]!, 5), ...pastDays()]) {
      for (const narrowing of narrowings()) {
        const input = { schoolId: school.a, asOf, ...narrowing };
        expect(await forecastReport(db, input), describeInput(input)).toEqual(expectedForecast(rows, input));
      }
    }
    // Twelve days in, the classes have a month of history; the student in no class (due the 20th) has none and takes the school's.
    const early = await forecastReport(db, { schoolId: school.a, asOf: addDays(month[0]!, 12) });
    expect(early.byClass.map((row) => [row.className, row.rateBasis])).toEqual([
      ['Alpha', 'class'],
      ['Beta', 'class'],
      [null, 'school'],
    ]);
    expect(early.horizons.map((h) => h.dueMinor > 0)).toEqual([true, true, true]);
    const none = await forecastReport(db, { schoolId: school.a, asOf: addDays(month[0]!, 5) });
    expect(none.byClass.every((row) => row.rateBasis === 'none' && row.onTimeRatePercent === null)).toBe(
      true,
    );
    const empty = await forecastReport(db, { schoolId: school.empty, asOf: today });
    expect(empty.byClass).toEqual([]);
    expect(empty.horizons.map((h) => [h.days, h.invoices, h.dueMinor, h.expectedOnTimeMinor])).toEqual([
      [30, 0, 0, 0],
      [60, 0, 0, 0],
      [90, 0, 0, 0],
    ]);
  });

  /** A table's rows carry every column, and nothing but its columns matters: project them. */
  function project(table: ReportTable) {
    for (const row of table.rows) {
      for (const column of table.columns)
        expect(row, `${table.name}.${column.key}`).toHaveProperty(column.key);
    }
    return table.rows.map((row) =>
      Object.fromEntries(table.columns.map((column) => [column.key, row[column.key]])),
    );
  }

  it('registry: every table has its columns and the result’s rows; the chart draws the main series', async () => {
    for (const granularity of GRANULARITIES) {
      const result = await REPORTS.collections.compute(db, {
        kind: 'collections',
        schoolId: school.a,
        from: start,
        to: today,
        granularity,
        asOf: today,
      });
      const [periods, ...others] = REPORTS.collections.tables(result);
      expect(others).toEqual([]);
      expect(periods!.name).toBe('periods');
      expect(project(periods!)).toEqual(result.periods);
      expect(REPORTS.collections.chart(result)?.points).toEqual(
        result.periods.map((p) => ({ label: p.start, value: p.collectedMinor - p.refundedMinor })),
      );
    }

    const aging = await REPORTS.aging.compute(db, { kind: 'aging', schoolId: school.a, asOf: today });
    expect(aging).toEqual(expectedAging(rows, { asOf: today }));
    const [buckets, defaulters, ...rest] = REPORTS.aging.tables(aging);
    expect(rest).toEqual([]);
    const bucketsOf = (b: typeof aging.buckets) => ({
      current: b.current,
      days1To30: b.days1To30,
      days31To60: b.days31To60,
      days61To90: b.days61To90,
      days90Plus: b.days90Plus,
      totalMinor: b.totalMinor,
    });
    expect(project(buckets!)).toEqual([
      { group: 'total', name: 'All', ...bucketsOf(aging.buckets) },
      ...aging.byClass.map((row) => ({
        group: 'class',
        name: row.className ?? 'No class',
        ...bucketsOf(row),
      })),
      ...aging.byFeeHead.map((row) => ({
        group: 'fee head',
        name: row.feeHead ?? 'No fee head',
        ...bucketsOf(row),
      })),
    ]);
    expect(project(defaulters!)).toEqual(
      aging.defaulters.map((row) => ({
        admissionNo: row.admissionNo,
        name: `${row.firstName} ${row.lastName}`,
        className: row.className,
        overdueMinor: row.overdueMinor,
        balanceMinor: row.balanceMinor,
        oldestDueDate: row.oldestDueDate,
        daysOverdue: row.daysOverdue,
      })),
    );
    expect(REPORTS.aging.chart(aging)?.points.map((p) => p.value)).toEqual([
      aging.buckets.current,
      aging.buckets.days1To30,
      aging.buckets.days31To60,
      aging.buckets.days61To90,
      aging.buckets.days90Plus,
    ]);

    const forecast = await REPORTS.forecast.compute(db, {
      kind: 'forecast',
      schoolId: school.a,
      asOf: addDays(month[0]!, 12),
    });
    expect(forecast).toEqual(expectedForecast(rows, { asOf: addDays(month[0]!, 12) }));
    const [horizons, ...none] = REPORTS.forecast.tables(forecast);
    expect(none).toEqual([]);
    expect(project(horizons!)).toEqual([
      ...forecast.horizons.map((h) => ({
        className: 'All classes',
        ...h,
        onTimeRatePercent: null,
        rateBasis: null,
      })),
      ...forecast.byClass.flatMap((row) =>
        row.horizons.map((h) => ({
          className: row.className ?? 'No class',
          ...h,
          onTimeRatePercent: row.onTimeRatePercent,
          rateBasis: row.rateBasis,
        })),
      ),
    ]);
    expect(REPORTS.forecast.chart(forecast)?.points.map((p) => p.value)).toEqual(
      forecast.horizons.flatMap((h) => [h.dueMinor, h.expectedOnTimeMinor]),
    );
  });

  it('registry: a schedule asks for the periods that end on its run day, the current one included', async () => {
    // A Sunday, a Monday, a first of the month, a last of a term, a leap day's neighbour, a year's first day.
    const days = [dst, addDays(dst, 1), month[2]!, '2027-04-30', '2028-03-01', '2029-01-01', '2026-12-31'];
    const defaults = { day: 30, week: 12, month: 12, term: 3 } as const;
    for (const run of days) {
      for (const granularity of GRANULARITIES) {
        for (const periods of [1, 2, 5, undefined]) {
          const params = {
            schoolId: school.a,
            classId: alpha(),
            feeHead: 'Tuition',
            granularity,
            ...(periods ? { periods } : {}),
          };
          const body = REPORTS.collections.scheduled(params, run);
          const count = periods ?? defaults[granularity];
          const from = nextPeriodStart(periodStartOf(run, granularity), granularity, -(count - 1));
          const label = `${granularity} × ${count} on ${run}`;
          expect(body, label).toEqual({
            kind: 'collections',
            schoolId: school.a,
            classId: alpha(),
            feeHead: 'Tuition',
            granularity,
            from,
            to: run,
            asOf: run,
          });
          expect(CreateReportBody.safeParse(body).success, label).toBe(true);
        }
      }
      // Without a granularity a schedule reads months.
      expect(REPORTS.collections.scheduled({ schoolId: school.a }, run)).toMatchObject({
        granularity: 'month',
        from: addMonths(periodStartOf(run, 'month'), -11),
        to: run,
      });
      for (const kind of ['aging', 'forecast'] as const) {
        expect(REPORTS[kind].scheduled({ schoolId: school.a, feeHead: 'lab' }, run)).toEqual({
          kind,
          schoolId: school.a,
          classId: undefined,
          feeHead: 'lab',
          asOf: run,
        });
      }
    }
    // What a schedule asks for computes to exactly that many periods, the last ending on the run day.
    const body = REPORTS.collections.scheduled(
      { schoolId: school.a, granularity: 'week', periods: 6 },
      today,
    );
    if (body.kind !== 'collections') throw new Error('a collections schedule asks for collections');
    const result = await collectionsReport(db, {
      schoolId: school.a,
      from: body.from,
      to: body.to,
      granularity: 'week',
    });
    expect(result.periods).toHaveLength(6);
    expect(result.periods[0]!.start).toBe(periodStartOf(result.periods[0]!.start, 'week'));
    expect(result.periods.at(-1)!.end).toBe(today);
    expect(result).toEqual(expectedCollections(rows, { from: body.from, to: body.to, granularity: 'week' }));
  });

  it('another school’s history never shows: its own reports are its own recomputation', async () => {
    const other = await readLedger(db, school.b);
    expect(other.invoices.length).toBeGreaterThan(10);
    const otherClass = classes.get('other')!;
    for (const narrowing of [{}, { classId: otherClass }, { feeHead: 'Tuition' }]) {
      const input = {
        schoolId: school.b,
        from: start,
        to: today,
        granularity: 'month' as const,
        ...narrowing,
      };
      expect(await collectionsReport(db, input)).toEqual(expectedCollections(other, input));
      expect(await agingReport(db, { schoolId: school.b, asOf: today, ...narrowing })).toEqual(
        expectedAging(other, { asOf: today, ...narrowing }),
      );
      expect(await forecastReport(db, { schoolId: school.b, asOf: lastDayOf(2), ...narrowing })).toEqual(
        expectedForecast(other, { asOf: lastDayOf(2), ...narrowing }),
      );
    }
    // Our class narrowing on the other school finds nothing of theirs (and theirs on ours nothing of ours).
    const crossed = await agingReport(db, { schoolId: school.a, asOf: today, classId: otherClass });
    expect(crossed.buckets.totalMinor).toBe(0);
  });
});
