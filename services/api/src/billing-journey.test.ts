import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApi, type Caller } from './testing/harness.js';

/**
 * The whole billing flow as a new customer would walk it, over HTTP only:
 * every row below is created through the API by the role that would create it
 * in real life, and every amount is checked to the paisa.
 *
 * One test on purpose: each step builds on the money the previous one moved,
 * so splitting it would make the steps depend on the order tests run in.
 *
 * Every date is `day(n)`, n days from the day the test runs (in the school's
 * zone), so what is due, overdue and in which aging bucket is the same story
 * whenever it runs; `pnpm test:future` checks that under a faked clock.
 */
const day = (offset: number) => daysFromToday(offset, 'Asia/Kolkata');

describe('billing journey: a new school from onboarding to statements', async () => {
  const api = await createTestApi();
  // Unique per run, so nothing here collides with another file's rows or a rerun.
  const tag = randomUUID().slice(0, 8);

  it('onboards a school, bills, collects, credits, refunds, reports and issues a fee plan', async () => {
    // ── Platform admin logs in with email and password and creates the school ──
    const adminTokens = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const adminMe = await api.request(null, 'GET', '/api/me', {
      headers: { authorization: `Bearer ${adminTokens.accessToken}` },
    });
    expect(adminMe.body).toMatchObject({ email: ADMIN_EMAIL, role: 'platform_admin' });
    const admin: Caller = {
      token: adminTokens.accessToken,
      role: 'platform_admin',
      userId: adminMe.body.id,
      schoolId: null,
    };

    const schoolRes = await api.request(admin, 'POST', '/api/schools', {
      body: { name: `Sunrise Public School ${tag}`, currency: 'INR', timezone: 'Asia/Kolkata' },
    });
    expect(schoolRes.status, JSON.stringify(schoolRes.body)).toBe(201);
    expect(schoolRes.body).toMatchObject({ currency: 'INR', timezone: 'Asia/Kolkata', locale: 'en-IN' });
    const schoolId: string = schoolRes.body.id;

    // ── The school's first admin, created by the platform admin, logs in ──
    const staff = async (by: Caller, role: 'school_admin' | 'accountant', password: string) => {
      const email = `${role}-${tag}@sunrise.test`;
      const created = await api.request(by, 'POST', `/api/schools/${schoolId}/users`, {
        body: { email: email.toUpperCase(), name: `The ${role}`, role, password },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ schoolId, email, role, status: 'active' });
      expect(created.body).not.toHaveProperty('passwordHash');
      expect(created.body).not.toHaveProperty('password');
      const tokens = await api.login(email, password);
      const caller: Caller = { token: tokens.accessToken, role, userId: created.body.id, schoolId };
      const me = await api.request(caller, 'GET', '/api/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: created.body.id, email, role, schoolId });
      return caller;
    };
    const schoolAdmin = await staff(admin, 'school_admin', 'principal-password-1');

    // ── The school admin sets up a class, students and a guardian ──
    const classRes = await api.request(schoolAdmin, 'POST', '/api/classes', {
      body: { name: 'Grade 3 A', grade: '3', section: 'A', academicYear: '2026-27' },
    });
    expect(classRes.status, JSON.stringify(classRes.body)).toBe(201);
    expect(classRes.body).toMatchObject({ schoolId, grade: '3', section: 'A', academicYear: '2026-27' });
    const classId: string = classRes.body.id;

    const newStudent = async (firstName: string, admissionNo: string, inClass: boolean) => {
      const res = await api.request(schoolAdmin, 'POST', '/api/students', {
        body: { firstName, lastName: 'Sharma', admissionNo, classId: inClass ? classId : null },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({
        schoolId,
        classId: inClass ? classId : null,
        status: 'active',
        creditMinor: 0,
      });
      return res.body.id as string;
    };
    const asha = await newStudent('Asha', 'ADM-001', true); // the one the money story follows
    const bala = await newStudent('Bala', 'ADM-002', true); // Asha's younger sibling
    const chetan = await newStudent('Chetan', 'ADM-003', false); // no class, no guardian

    const guardianRes = await api.request(schoolAdmin, 'POST', '/api/guardians', {
      body: { name: 'Priya Sharma', phone: '+91 98765-43210', whatsappOptIn: true, preferredLanguage: 'hi' },
    });
    expect(guardianRes.status, JSON.stringify(guardianRes.body)).toBe(201);
    // Stored as E.164 whatever spacing was typed.
    expect(guardianRes.body).toMatchObject({
      schoolId,
      phone: '+919876543210',
      whatsappOptIn: true,
      preferredLanguage: 'hi',
    });
    const guardianId: string = guardianRes.body.id;

    for (const studentId of [asha, bala]) {
      const link = await api.request(
        schoolAdmin,
        'PUT',
        `/api/students/${studentId}/guardians/${guardianId}`,
        {
          body: { relation: 'mother', isPrimaryPayer: true },
        },
      );
      expect(link.status, JSON.stringify(link.body)).toBe(200);
      expect(link.body).toMatchObject({ studentId, guardianId, relation: 'mother', isPrimaryPayer: true });
    }
    const ashaDetail = await api.request(schoolAdmin, 'GET', `/api/students/${asha}`);
    expect(ashaDetail.body.guardians).toEqual([
      {
        id: guardianId,
        name: 'Priya Sharma',
        phone: '+919876543210',
        whatsappOptIn: true,
        preferredLanguage: 'hi',
        relation: 'mother',
        isPrimaryPayer: true,
      },
    ]);

    // ── The school admin hires an accountant, who does the billing from here on ──
    const accountant = await staff(schoolAdmin, 'accountant', 'ledger-password-1');

    const build = api.build(accountant);
    const invoice = async (studentId: string, amountMinor: number, issueDate: string, dueDate: string) => {
      const created = await build.invoice({
        studentId,
        issueDate,
        dueDate,
        lines: [{ description: 'Tuition', feeHead: 'Tuition', quantity: 1, unitAmountMinor: amountMinor }],
      });
      expect(created).toMatchObject({
        schoolId,
        studentId,
        currency: 'INR',
        totalMinor: amountMinor,
        issueDate,
        dueDate,
      });
      return created;
    };
    const pay = (invoiceId: string, amountMinor: number) =>
      build.payment(invoiceId, amountMinor, { reference: `UPI-${amountMinor}` });
    const getInvoice = async (id: string) => {
      const res = await api.request(accountant, 'GET', `/api/invoices/${id}`);
      expect(res.status).toBe(200);
      return res.body;
    };

    // ── Invoice 1: ₹1,000.00, paid ₹300.00 then ₹700.00 ──
    const inv1 = await invoice(asha, 100_000, day(-2), day(18));
    expect(inv1).toMatchObject({ paidMinor: 0, refundedMinor: 0, balanceMinor: 100_000, creditMinor: 0 });
    expect(inv1.number).toMatch(new RegExp(`^INV-${day(-2).slice(0, 4)}-\\d{6}$`));
    expect(inv1.lines).toEqual([
      {
        description: 'Tuition',
        feeHead: 'Tuition',
        quantity: 1,
        unitAmountMinor: 100_000,
        amountMinor: 100_000,
      },
    ]);
    const p1 = await pay(inv1.id, 30_000);
    expect(p1).toMatchObject({ appliedMinor: 30_000, creditedMinor: 0 });
    expect(p1.payment).toMatchObject({
      invoiceId: inv1.id,
      studentId: asha,
      amountMinor: 30_000,
      refundedMinor: 0,
      currency: 'INR',
      method: 'upi',
    });
    expect(p1.invoice).toMatchObject({ paidMinor: 30_000, balanceMinor: 70_000, status: 'partial' });
    const p2 = await pay(inv1.id, 70_000);
    expect(p2).toMatchObject({ appliedMinor: 70_000, creditedMinor: 0 });
    expect(p2.invoice).toMatchObject({ paidMinor: 100_000, balanceMinor: 0, status: 'paid', creditMinor: 0 });

    // ── Invoice 2: ₹500.00 overpaid with ₹800.00; ₹300.00 becomes credit ──
    const inv2 = await invoice(asha, 50_000, day(-1), day(49));
    const p3 = await pay(inv2.id, 80_000);
    expect(p3).toMatchObject({ appliedMinor: 50_000, creditedMinor: 30_000 });
    expect(p3.invoice).toMatchObject({
      paidMinor: 50_000,
      balanceMinor: 0,
      status: 'paid',
      creditMinor: 30_000,
    });
    expect((await api.request(accountant, 'GET', `/api/students/${asha}`)).body.creditMinor).toBe(30_000);

    // ── Invoice 3: ₹200.00 is settled from the credit as it is issued; ₹100.00 credit remains ──
    const inv3 = await invoice(asha, 20_000, day(0), day(80));
    expect(inv3).toMatchObject({ paidMinor: 20_000, balanceMinor: 0, status: 'paid', creditMinor: 10_000 });
    // The credit came from payment 3, which still belongs to invoice 2.
    const inv3Payments = await api.request(accountant, 'GET', `/api/invoices/${inv3.id}/payments`);
    expect(inv3Payments.body).toEqual({ data: [] });

    // ── Refund ₹150.00 of the overpayment: ₹100.00 out of credit, ₹50.00 reopens invoice 2 ──
    const refund = await api.request(accountant, 'POST', `/api/payments/${p3.payment.id}/refunds`, {
      body: { amountMinor: 15_000, reason: 'Family asked for part back' },
    });
    expect(refund.status, JSON.stringify(refund.body)).toBe(201);
    expect(refund.body).toMatchObject({
      paymentId: p3.payment.id,
      amountMinor: 15_000,
      fromCreditMinor: 10_000,
      reason: 'Family asked for part back',
    });
    const tooMuch = await api.request(accountant, 'POST', `/api/payments/${p3.payment.id}/refunds`, {
      body: { amountMinor: 65_001, reason: 'More than is left' },
    });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const p3After = await api.request(accountant, 'GET', `/api/payments/${p3.payment.id}`);
    expect(p3After.body).toMatchObject({ amountMinor: 80_000, refundedMinor: 15_000 });
    expect(p3After.body.refunds).toHaveLength(1);
    expect(await getInvoice(inv2.id)).toMatchObject({
      paidMinor: 50_000,
      refundedMinor: 5_000,
      balanceMinor: 5_000,
      creditMinor: 0,
    });
    expect(await getInvoice(inv3.id)).toMatchObject({
      paidMinor: 20_000,
      refundedMinor: 0,
      balanceMinor: 0,
      status: 'paid',
    });

    // ── Other students' bills, spread over due dates so the aging buckets have something in each ──
    const inv4 = await invoice(bala, 60_000, day(-21), day(9));
    const inv5 = await invoice(bala, 25_000, day(-2), day(99));
    const inv6 = await invoice(bala, 10_000, day(-68), day(-52));
    const inv7 = await invoice(chetan, 7_000, day(-2), day(71));
    const p4 = await pay(inv7.id, 3_000);
    expect(p4.invoice).toMatchObject({ paidMinor: 3_000, balanceMinor: 4_000 });
    // inv6 was due 52 days ago, so it is overdue rather than pending.
    expect((await getInvoice(inv6.id)).status).toBe('overdue');
    const balaStatement = await api.request(
      accountant,
      'GET',
      `/api/students/${bala}/statement?asOf=${day(90)}`,
    );
    // Oldest due first; 90 days from now only inv5 (due in 99) is not yet due.
    expect(balaStatement.body.invoices.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([
      [inv6.id, 'overdue'],
      [inv4.id, 'overdue'],
      [inv5.id, 'pending'],
    ]);

    // ── Asha's statement ──
    const statement = await api.request(accountant, 'GET', `/api/students/${asha}/statement?asOf=${day(90)}`);
    expect(statement.status, JSON.stringify(statement.body)).toBe(200);
    expect(statement.body.student).toMatchObject({
      id: asha,
      schoolId,
      firstName: 'Asha',
      admissionNo: 'ADM-001',
      classId,
      status: 'active',
    });
    expect(statement.body).toMatchObject({ currency: 'INR', asOf: day(90) });
    expect(statement.body.totals).toEqual({
      invoicedMinor: 170_000,
      paidMinor: 180_000,
      refundedMinor: 15_000,
      balanceMinor: 5_000,
      creditMinor: 0,
    });
    const lines = statement.body.invoices.map((i: Record<string, unknown>) => ({
      id: i.id,
      totalMinor: i.totalMinor,
      paidMinor: i.paidMinor,
      refundedMinor: i.refundedMinor,
      balanceMinor: i.balanceMinor,
      status: i.status,
      payments: (i.payments as { amountMinor: number; refundedMinor: number; refunds: unknown[] }[]).map(
        (p) => [p.amountMinor, p.refundedMinor, p.refunds.length],
      ),
    }));
    expect(lines).toEqual([
      {
        id: inv1.id,
        totalMinor: 100_000,
        paidMinor: 100_000,
        refundedMinor: 0,
        balanceMinor: 0,
        status: 'paid',
        payments: [
          [30_000, 0, 0],
          [70_000, 0, 0],
        ],
      },
      // Reopened by the refund and past its due date on the statement's asOf.
      {
        id: inv2.id,
        totalMinor: 50_000,
        paidMinor: 50_000,
        refundedMinor: 5_000,
        balanceMinor: 5_000,
        status: 'overdue',
        payments: [[80_000, 15_000, 1]],
      },
      {
        id: inv3.id,
        totalMinor: 20_000,
        paidMinor: 20_000,
        refundedMinor: 0,
        balanceMinor: 0,
        status: 'paid',
        payments: [],
      },
    ]);
    expect(statement.body.invoices[1].payments[0].refunds[0]).toMatchObject({
      amountMinor: 15_000,
      fromCreditMinor: 10_000,
    });
    // Before its due date the same reopened invoice is partial, not overdue.
    const early = await api.request(accountant, 'GET', `/api/students/${asha}/statement?asOf=${day(9)}`);
    expect(early.body.invoices[1].status).toBe('partial');
    expect(early.body.totals).toEqual(statement.body.totals);
    // Owed minus credit is invoiced minus money kept.
    const t = statement.body.totals;
    expect(t.balanceMinor - t.creditMinor).toBe(t.invoicedMinor - (t.paidMinor - t.refundedMinor));

    // ── The school's statement, before every due date and after them ──
    const schoolStatement = (query: string) =>
      api.request(accountant, 'GET', `/api/schools/${schoolId}/statement?${query}`);
    // As it stood then (point-in-time): only the invoice issued by that day was on the books.
    const before = await schoolStatement(`asOf=${day(-63)}`);
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.aging).toEqual({
      current: 10_000,
      days1To30: 0,
      days31To60: 0,
      days61To90: 0,
      days90Plus: 0,
    });

    const after = await schoolStatement(`asOf=${day(90)}`);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ schoolId, currency: 'INR', asOf: day(90), studentsCount: 3 });
    expect(after.body.totals).toEqual({
      invoicedMinor: 272_000,
      paidMinor: 183_000,
      refundedMinor: 15_000,
      balanceMinor: 104_000,
      creditMinor: 0,
    });
    expect(after.body.aging).toEqual({
      current: 25_000, // inv5, due 9 days after asOf
      days1To30: 4_000, // inv7 (19 days), partly paid
      days31To60: 5_000, // inv2 (41 days), reopened by the refund
      days61To90: 60_000, // inv4 (81 days)
      days90Plus: 10_000, // inv6 (142 days)
    });
    const aging = after.body.aging as Record<string, number>;
    expect(Object.values(aging).reduce((sum, n) => sum + n, 0)).toBe(after.body.totals.balanceMinor);
    const breakdown = (body: { students: { data: Record<string, unknown>[] } }) =>
      body.students.data.map((s) => [
        s.id,
        s.invoicedMinor,
        s.paidMinor,
        s.refundedMinor,
        s.balanceMinor,
        s.creditMinor,
      ]);
    expect(breakdown(after.body)).toEqual([
      [bala, 95_000, 0, 0, 95_000, 0],
      [asha, 170_000, 180_000, 15_000, 5_000, 0],
      [chetan, 7_000, 3_000, 0, 4_000, 0],
    ]);
    expect(after.body.students.pagination).toEqual({ limit: 50, offset: 0, total: 3 });
    const ascending = await schoolStatement(`asOf=${day(90)}&sort=balance`);
    expect(ascending.body.students.data.map((s: { id: string }) => s.id)).toEqual([chetan, asha, bala]);
    const paged = await schoolStatement(`asOf=${day(90)}&limit=1&offset=1`);
    expect(paged.body.students.data.map((s: { id: string }) => s.id)).toEqual([asha]);
    expect(paged.body.totals).toEqual(after.body.totals);

    // ── The audit trail has the writes, with who made them ──
    const audit = async (entityType: string, entityId: string) => {
      const res = await api.request(
        accountant,
        'GET',
        `/api/audit?entityType=${entityType}&entityId=${entityId}`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data as { action: string; actorId: string; actorRole: string; schoolId: string }[];
    };
    const inv1Audit = await audit('invoice', inv1.id);
    expect(inv1Audit.map((e) => e.action)).toEqual(['invoice.create']);
    expect(inv1Audit[0]).toMatchObject({ actorId: accountant.userId, actorRole: 'accountant', schoolId });
    expect((await audit('payment', p1.payment.id)).map((e) => e.action)).toEqual(['payment.create']);
    // Newest first.
    expect((await audit('payment', p3.payment.id)).map((e) => e.action)).toEqual([
      'refund.create',
      'payment.create',
    ]);
    expect((await audit('school', schoolId)).map((e) => e.action)).toEqual(['school.create']);
    expect((await audit('guardian', guardianId)).map((e) => e.action)).toEqual(['guardian.create']);
    expect((await audit('student', asha)).map((e) => e.action)).toEqual(['student.create']);
    expect((await audit('class', classId)).map((e) => e.action)).toEqual(['class.create']);
    expect((await audit('student_guardian', `${asha}:${guardianId}`)).map((e) => e.action)).toEqual([
      'student_guardian.link',
    ]);
    expect((await audit('user', accountant.userId))[0]).toMatchObject({
      action: 'user.create',
      actorId: schoolAdmin.userId,
    });

    // ── A fee plan: 2 heads, 3 instalments (40/30/30), 10% off for a second child ──
    const planRes = await api.request(accountant, 'POST', '/api/fee-plans', {
      body: {
        name: `Annual fees ${tag}`,
        academicYear: '2027-28',
        siblingDiscountPercent: 10,
        heads: [
          { name: 'Tuition', amountMinor: 120_000 },
          { name: 'Transport', amountMinor: 30_001 },
        ],
        instalments: [
          { label: 'Term 1', dueDate: day(139), sharePercent: 40 },
          { label: 'Term 2', dueDate: day(230), sharePercent: 30 },
          { label: 'Term 3', dueDate: day(322), sharePercent: 30 },
        ],
      },
    });
    expect(planRes.status, JSON.stringify(planRes.body)).toBe(201);
    expect(planRes.body).toMatchObject({
      schoolId,
      academicYear: '2027-28',
      siblingDiscountPercent: 10,
      heads: [
        { name: 'Tuition', amountMinor: 120_000 },
        { name: 'Transport', amountMinor: 30_001 },
      ],
      annualTotalMinor: 150_001,
    });
    expect(planRes.body.instalments.map((i: { sharePercent: number }) => i.sharePercent)).toEqual([
      40, 30, 30,
    ]);
    const planId: string = planRes.body.id;

    const issue = () =>
      api.request(accountant, 'POST', `/api/fee-plans/${planId}/issue`, {
        body: { classId, issueDate: day(113) },
      });
    const first = await issue();
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // Asha and Bala are in the class, Chetan is not: 2 students × 3 instalments.
    expect(first.body).toMatchObject({ createdCount: 6, skippedCount: 0 });
    expect(first.body.invoiceIds).toHaveLength(6);
    const second = await issue();
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ createdCount: 0, skippedCount: 6, invoiceIds: [] });

    const planInvoices = async (studentId: string) => {
      const res = await api.request(
        accountant,
        'GET',
        `/api/invoices?studentId=${studentId}&sort=dueDate&dueFrom=${day(130)}`,
      );
      expect(res.status).toBe(200);
      return (
        res.body.data as {
          feePlanId: string;
          totalMinor: number;
          issueDate: string;
          lines: { description: string; amountMinor: number }[];
        }[]
      ).map((i) => {
        expect(i).toMatchObject({ feePlanId: planId, issueDate: day(113) });
        return [i.totalMinor, i.lines.map((l) => [l.description, l.amountMinor])];
      });
    };
    // Each head splits 40/30/30 rounding down; the last instalment takes the remainder (30,001 → 12,000 + 9,000 + 9,001).
    expect(await planInvoices(asha)).toEqual([
      [
        60_000,
        [
          ['Tuition (Term 1)', 48_000],
          ['Transport (Term 1)', 12_000],
        ],
      ],
      [
        45_000,
        [
          ['Tuition (Term 2)', 36_000],
          ['Transport (Term 2)', 9_000],
        ],
      ],
      [
        45_001,
        [
          ['Tuition (Term 3)', 36_000],
          ['Transport (Term 3)', 9_001],
        ],
      ],
    ]);
    // Bala is the second child of the same primary payer: 10%, rounded half away from zero.
    expect(await planInvoices(bala)).toEqual([
      [
        54_000,
        [
          ['Tuition (Term 1)', 48_000],
          ['Transport (Term 1)', 12_000],
          ['Sibling discount (10%)', -6_000],
        ],
      ],
      [
        40_500,
        [
          ['Tuition (Term 2)', 36_000],
          ['Transport (Term 2)', 9_000],
          ['Sibling discount (10%)', -4_500],
        ],
      ],
      [
        40_501,
        [
          ['Tuition (Term 3)', 36_000],
          ['Transport (Term 3)', 9_001],
          ['Sibling discount (10%)', -4_500],
        ],
      ],
    ]);

    const afterPlan = await api.request(accountant, 'GET', `/api/students/${asha}/statement?asOf=${day(90)}`);
    expect(afterPlan.body.totals).toEqual({
      invoicedMinor: 320_001,
      paidMinor: 180_000,
      refundedMinor: 15_000,
      balanceMinor: 155_001,
      creditMinor: 0,
    });
    expect(afterPlan.body.invoices).toHaveLength(6);
    const schoolAfterPlan = await schoolStatement(`asOf=${day(90)}`);
    expect(schoolAfterPlan.body.totals).toMatchObject({
      invoicedMinor: 272_000 + 150_001 + 135_001,
      balanceMinor: 104_000 + 150_001 + 135_001,
    });
    // The plan's invoices are not due yet 90 days from now.
    expect(schoolAfterPlan.body.aging.current).toBe(25_000 + 150_001 + 135_001);
    const planAudit = await audit('fee_plan', planId);
    // The repeat issue created nothing, so it wrote no audit row.
    expect(planAudit.map((e) => e.action)).toEqual(['fee_plan.issue', 'fee_plan.create']);
  });
});
