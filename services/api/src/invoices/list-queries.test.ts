import { describe, expect, it } from 'vitest';
import { daysFromToday, uniqueTag } from '@bursar/test-support';
import { createTestApi, type Caller } from '../testing/harness.js';

/**
 * A list page costs a fixed number of queries, however many rows it holds:
 * the rows, then every row's children in one `in (...)` query each, and the
 * count. Counted at the app's own Kysely instance, over HTTP.
 */
describe('list endpoints run a fixed number of queries per page', async () => {
  let queries = 0;
  const api = await createTestApi({ onQuery: () => void queries++ });
  const schoolId = await api.createSchool();
  const accountant = await api.callerFor('accountant', schoolId);
  const build = api.build(accountant);
  const studentId = await api.rows.student(schoolId);

  for (let i = 0; i < 50; i++) {
    await build.invoice({
      studentId,
      dueDate: daysFromToday(30 + i),
      lines: [
        { description: 'Tuition', feeHead: 'tuition', quantity: 1, unitAmountMinor: 10_000 + i },
        { description: 'Transport', feeHead: 'transport', quantity: 2, unitAmountMinor: 500 },
      ],
    });
    const plan = await api.request(accountant, 'POST', '/api/fee-plans', {
      body: {
        name: `Plan ${uniqueTag()}`,
        academicYear: '2026-27',
        heads: [
          { name: 'Tuition', amountMinor: 100_000 },
          { name: 'Transport', amountMinor: 20_000 },
        ],
        instalments: [
          { label: 'Term 1', dueDate: daysFromToday(30), sharePercent: 50 },
          { label: 'Term 2', dueDate: daysFromToday(120), sharePercent: 50 },
        ],
      },
    });
    expect(plan.status).toBe(201);
  }

  /** The queries one GET makes, and its body. */
  async function counted(caller: Caller, path: string) {
    queries = 0;
    const response = await api.request(caller, 'GET', path);
    expect(response.status).toBe(200);
    return { queries, body: response.body };
  }

  it('GET /api/invoices: a page of 50 costs what a page of 5 does, and carries every line', async () => {
    const small = await counted(accountant, '/api/invoices?limit=5');
    const large = await counted(accountant, '/api/invoices?limit=50');
    expect(small.body.data).toHaveLength(5);
    expect(large.body.data).toHaveLength(50);
    expect(large.queries).toBe(small.queries);
    // The page, its lines, the count.
    expect(large.queries).toBe(3);
    for (const invoice of large.body.data) {
      expect(invoice.lines.map((line: { description: string }) => line.description)).toEqual([
        'Tuition',
        'Transport',
      ]);
      expect(invoice.totalMinor).toBe(invoice.lines[0].amountMinor + 1_000);
      expect(invoice).toEqual((await api.request(accountant, 'GET', `/api/invoices/${invoice.id}`)).body);
    }
  });

  it('GET /api/fee-plans: a page of 50 costs what a page of 5 does, and carries every head and instalment', async () => {
    const small = await counted(accountant, '/api/fee-plans?limit=5');
    const large = await counted(accountant, '/api/fee-plans?limit=50');
    expect(small.body.data).toHaveLength(5);
    expect(large.body.data).toHaveLength(50);
    expect(large.queries).toBe(small.queries);
    // The page, its heads, its instalments, the count.
    expect(large.queries).toBe(4);
    for (const plan of large.body.data) {
      expect(plan.heads.map((head: { name: string }) => head.name)).toEqual(['Tuition', 'Transport']);
      expect(plan.instalments.map((i: { label: string }) => i.label)).toEqual(['Term 1', 'Term 2']);
      expect(plan).toEqual((await api.request(accountant, 'GET', `/api/fee-plans/${plan.id}`)).body);
    }
  });

  it('an empty page costs the page and the count', async () => {
    const other = await api.callerFor('accountant', await api.createSchool());
    // The page and the count: no query for the children of no rows.
    expect(await counted(other, '/api/invoices?limit=50')).toEqual({
      queries: 2,
      body: expect.objectContaining({ data: [] }),
    });
    expect(await counted(other, '/api/fee-plans?limit=50')).toEqual({
      queries: 2,
      body: expect.objectContaining({ data: [] }),
    });
  });
});
