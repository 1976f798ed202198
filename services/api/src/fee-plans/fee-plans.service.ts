import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
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
import { findClass } from '../classes/classes.repository.js';
import {
  activeStudentIdsOfClass,
  findFeePlan as findFeePlanRow,
  insertFeePlan,
  insertFeePlanHeads,
  insertFeePlanInstalments,
  listFeePlans as selectFeePlans,
  schoolTimezone,
  studentIdsInSchool,
  type FeePlanRow,
} from './fee-plans.repository.js';
import { notFound, constraintError, fieldError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

function toFeePlan(plan: FeePlanRow): FeePlan {
  return {
    id: plan.id,
    schoolId: plan.schoolId,
    name: plan.name,
    academicYear: plan.academicYear,
    siblingDiscountPercent: plan.siblingDiscountBps / 100,
    heads: plan.heads.map((head) => ({ name: head.name, amountMinor: toNumber(head.amountMinor) })),
    instalments: plan.instalments.map((i) => ({
      id: i.id,
      label: i.label,
      dueDate: i.dueDate,
      sharePercent: i.shareBps / 100,
    })),
    annualTotalMinor: toNumber(plan.heads.reduce((sum, head) => sum + head.amountMinor, 0n)),
    createdAt: plan.createdAt.toISOString(),
  };
}

/** A fee plan of a live school within `scope`, or 404. */
export async function findFeePlan(db: Db, scope: string | null, id: string): Promise<FeePlan> {
  const plan = await findFeePlanRow(db, scope, id);
  if (!plan) throw notFound('Fee plan');
  return toFeePlan(plan);
}

export async function createFeePlan(db: Kysely<DB>, actor: Actor, body: CreateFeePlanBody): Promise<FeePlan> {
  try {
    return await db.transaction().execute(async (trx) => {
      // Share-locks the school, so a concurrent delete cannot miss the new plan.
      const { id: schoolId } = await schoolForWrite(trx, actor.caller, body.schoolId);
      const plan = await insertFeePlan(trx, {
        schoolId,
        name: body.name,
        academicYear: body.academicYear,
        siblingDiscountBps: Math.round((body.siblingDiscountPercent ?? 0) * 100),
      });
      await insertFeePlanHeads(
        trx,
        body.heads.map((head, position) => ({
          feePlanId: plan.id,
          position,
          name: head.name,
          amountMinor: BigInt(head.amountMinor),
        })),
      );
      await insertFeePlanInstalments(
        trx,
        body.instalments.map((i, position) => ({
          feePlanId: plan.id,
          position,
          label: i.label,
          dueDate: i.dueDate,
          shareBps: Math.round(i.sharePercent * 100),
        })),
      );
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
  const { rows, total } = await selectFeePlans(db, scope, page);
  return { data: rows.map(toFeePlan), pagination: { limit: page.limit, offset: page.offset, total } };
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
    const timezone = await schoolTimezone(trx, plan.schoolId);
    let studentIds: string[];
    if (body.classId) {
      if (!(await findClass(trx, plan.schoolId, body.classId))) {
        throw fieldError('body.classId', 'unknown class in this school');
      }
      studentIds = await activeStudentIdsOfClass(trx, body.classId);
    } else {
      const wanted = [...new Set(body.studentIds!)];
      const found = await studentIdsInSchool(trx, plan.schoolId, wanted);
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
      issueDate: body.issueDate ?? todayIn(timezone),
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
