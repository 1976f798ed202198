import { AppError } from '@bursar/contracts';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateFeePlanBody,
  FeePlan,
  IssueFeePlanBody,
  IssueFeePlanResult,
  Paginated,
  PaginationQuery,
} from '@bursar/contracts';
import { issueFeePlan, todayIn, toNumber } from '@bursar/ledger';
import { schoolForWrite } from '../schools/schools.service.js';
import { liveSchoolIds } from '../schools/schools.repository.js';
import { notFound, constraintError, fieldError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

export async function findFeePlan(db: Db, scope: string | null, id: string): Promise<FeePlan> {
  // A deleted school's plans are gone with it.
  let query = db
    .selectFrom('feePlans')
    .selectAll()
    .where('id', '=', id)
    .where('schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('schoolId', '=', scope);
  const plan = await query.executeTakeFirst();
  if (!plan) throw notFound('Fee plan');
  const [heads, instalments] = await Promise.all([
    db
      .selectFrom('feePlanHeads')
      .select(['name', 'amountMinor'])
      .where('feePlanId', '=', id)
      .orderBy('position')
      .execute(),
    db
      .selectFrom('feePlanInstalments')
      .select(['id', 'label', 'dueDate', 'shareBps'])
      .where('feePlanId', '=', id)
      .orderBy('position')
      .execute(),
  ]);
  return {
    id: plan.id,
    schoolId: plan.schoolId,
    name: plan.name,
    academicYear: plan.academicYear,
    siblingDiscountPercent: plan.siblingDiscountBps / 100,
    heads: heads.map((head) => ({ name: head.name, amountMinor: toNumber(head.amountMinor) })),
    instalments: instalments.map((i) => ({
      id: i.id,
      label: i.label,
      dueDate: i.dueDate,
      sharePercent: i.shareBps / 100,
    })),
    annualTotalMinor: toNumber(heads.reduce((sum, head) => sum + head.amountMinor, 0n)),
    createdAt: plan.createdAt.toISOString(),
  };
}

export async function createFeePlan(db: Kysely<DB>, actor: Actor, body: CreateFeePlanBody): Promise<FeePlan> {
  try {
    return await db.transaction().execute(async (trx) => {
      // Share-locks the school, so a concurrent delete cannot miss the new plan.
      const { id: schoolId } = await schoolForWrite(trx, actor.caller, body.schoolId);
      const plan = await trx
        .insertInto('feePlans')
        .values({
          schoolId,
          name: body.name,
          academicYear: body.academicYear,
          siblingDiscountBps: Math.round((body.siblingDiscountPercent ?? 0) * 100),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('feePlanHeads')
        .values(
          body.heads.map((head, position) => ({
            feePlanId: plan.id,
            position,
            name: head.name,
            amountMinor: BigInt(head.amountMinor),
          })),
        )
        .execute();
      await trx
        .insertInto('feePlanInstalments')
        .values(
          body.instalments.map((i, position) => ({
            feePlanId: plan.id,
            position,
            label: i.label,
            dueDate: i.dueDate,
            shareBps: Math.round(i.sharePercent * 100),
          })),
        )
        .execute();
      const created = await findFeePlan(trx, schoolId, plan.id);
      await recordAudit(trx, actor, {
        action: 'fee_plan.create',
        entityType: 'fee_plan',
        entityId: plan.id,
        schoolId,
        after: created,
      });
      return created;
    });
  } catch (error) {
    throw constraintError(error, {
      fee_plans_school_id_academic_year_name_key: () =>
        new AppError('conflict', `A fee plan named "${body.name}" already exists for ${body.academicYear}`),
    });
  }
}

export async function listFeePlans(
  db: Kysely<DB>,
  scope: string | null,
  page: PaginationQuery,
): Promise<Paginated<FeePlan>> {
  let base = db.selectFrom('feePlans').where('schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('schoolId', '=', scope);
  const [rows, count] = await Promise.all([
    base
      .select('id')
      .orderBy('createdAt', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    data: await Promise.all(rows.map((row) => findFeePlan(db, null, row.id))),
    pagination: { limit: page.limit, offset: page.offset, total: count.n },
  };
}

/** Issues the plan to a class's active students or to listed students; issuing twice creates nothing new. */
export async function issueFeePlanById(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  planId: string,
  body: IssueFeePlanBody,
): Promise<IssueFeePlanResult> {
  return db.transaction().execute(async (trx) => {
    const plan = await findFeePlan(trx, scope, planId);
    const school = await trx
      .selectFrom('schools')
      .select('timezone')
      .where('id', '=', plan.schoolId)
      .executeTakeFirstOrThrow();
    let studentIds: string[];
    if (body.classId) {
      const klass = await trx
        .selectFrom('classes')
        .select('id')
        .where('id', '=', body.classId)
        .where('schoolId', '=', plan.schoolId)
        .executeTakeFirst();
      if (!klass) {
        throw fieldError('body.classId', 'unknown class in this school');
      }
      const rows = await trx
        .selectFrom('students')
        .select('id')
        .where('classId', '=', body.classId)
        .where('status', '=', 'active')
        .execute();
      studentIds = rows.map((row) => row.id);
    } else {
      const wanted = [...new Set(body.studentIds!)];
      const rows = await trx
        .selectFrom('students')
        .select('id')
        .where('id', 'in', wanted)
        .where('schoolId', '=', plan.schoolId)
        .execute();
      const found = new Set(rows.map((row) => row.id));
      const missing = wanted.filter((id) => !found.has(id));
      if (missing.length) {
        throw new AppError('validation_failed', 'Some students are not in this school', {
          errors: missing.map((id) => ({ path: 'body.studentIds', message: `unknown student ${id}` })),
        });
      }
      studentIds = wanted;
    }
    const result = await issueFeePlan(trx, {
      schoolId: plan.schoolId,
      feePlanId: planId,
      studentIds,
      issueDate: body.issueDate ?? todayIn(school.timezone),
    });
    if (result.created.length) {
      await recordAudit(trx, actor, {
        action: 'fee_plan.issue',
        entityType: 'fee_plan',
        entityId: planId,
        schoolId: plan.schoolId,
        after: { invoiceIds: result.created, students: studentIds.length },
      });
    }
    return { createdCount: result.created.length, skippedCount: result.skipped, invoiceIds: result.created };
  });
}
