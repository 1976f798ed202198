import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { createTestApi } from '../testing/harness.js';

/** A platform admin need not repeat a school the request already implies; a contradiction is refused. */
describe('schoolId inferred from the request', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'Inference A' });
  const schoolB = await api.createSchool({ name: 'Inference B' });
  const classA = await api.request(api.admin, 'POST', '/api/classes', {
    body: { schoolId: schoolA, name: 'Grade 3', grade: '3', academicYear: '2026-27' },
  });
  const student = await api.request(api.admin, 'POST', '/api/students', {
    body: { classId: classA.body.id, firstName: 'Asha', lastName: 'Verma', admissionNo: 'INF-1' },
  });
  const invoice = (body: Record<string, unknown>) =>
    api.request(api.admin, 'POST', '/api/invoices', {
      body: {
        studentId: student.body.id,
        dueDate: daysFromToday(30),
        lines: [{ description: 'Tuition', feeHead: 'tuition', quantity: 1, unitAmountMinor: 50_000 }],
        ...body,
      },
    });

  it("creates a student in its class's school without schoolId", () => {
    expect(classA.status).toBe(201);
    expect(student.status).toBe(201);
    expect(student.body.schoolId).toBe(schoolA);
  });

  it("invoices a student in the student's school without schoolId, and with the same one", async () => {
    const inferred = await invoice({});
    expect(inferred.status).toBe(201);
    expect(inferred.body.schoolId).toBe(schoolA);
    expect((await invoice({ schoolId: schoolA })).status).toBe(201);
  });

  it('refuses a schoolId that contradicts the student or the class with 422 on body.schoolId', async () => {
    const wrong = await invoice({ schoolId: schoolB });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ path: 'body.schoolId' })]);
    const misplaced = await api.request(api.admin, 'POST', '/api/students', {
      body: {
        schoolId: schoolB,
        classId: classA.body.id,
        firstName: 'Ravi',
        lastName: 'K',
        admissionNo: 'INF-2',
      },
    });
    expect(misplaced.status).toBe(422);
  });

  it('still asks a platform admin for schoolId when nothing implies it and there are several schools', async () => {
    const orphan = await api.request(api.admin, 'POST', '/api/students', {
      body: { firstName: 'No', lastName: 'Class', admissionNo: 'INF-3' },
    });
    expect(orphan.status).toBe(422);
    expect(orphan.body.errors).toEqual([expect.objectContaining({ path: 'body.schoolId' })]);
  });

  it('still refuses staff who name a school, even their own', async () => {
    const accountant = await api.callerFor('accountant', schoolA);
    const named = await api.request(accountant, 'POST', '/api/invoices', {
      body: {
        schoolId: schoolA,
        studentId: student.body.id,
        dueDate: daysFromToday(30),
        lines: [{ description: 'Tuition', feeHead: 'tuition', quantity: 1, unitAmountMinor: 100 }],
      },
    });
    expect(named.status).toBe(422);
  });
});
