import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR } from '@bursar/contracts';
import { daysFromToday } from '@bursar/test-support';
import { createTestApi } from '../testing/harness.js';

describe('fee plans', async () => {
  const api = await createTestApi();
  const schoolId = await api.createSchool();
  const accountant = await api.callerFor('accountant', schoolId);
  const plan = (heads: { name: string; amountMinor: number }[]) =>
    api.request(accountant, 'POST', '/api/fee-plans', {
      body: {
        name: `Plan ${heads.length}-${heads[0]!.amountMinor}`,
        academicYear: '2026-27',
        heads,
        instalments: [{ label: 'Whole year', dueDate: daysFromToday(60), sharePercent: 100 }],
      },
    });

  it('refuses heads that together exceed the cap an invoice may carry, so no issued invoice can', async () => {
    const half = MAX_AMOUNT_MINOR / 2;
    expect(
      (
        await plan([
          { name: 'Tuition', amountMinor: half },
          { name: 'Boarding', amountMinor: half },
        ])
      ).status,
    ).toBe(201);
    const over = await plan([
      { name: 'Tuition', amountMinor: half },
      { name: 'Boarding', amountMinor: half + 1 },
    ]);
    expect(over.status).toBe(422);
    expect(over.body.errors).toEqual([expect.objectContaining({ path: 'body.heads' })]);
  });
});
