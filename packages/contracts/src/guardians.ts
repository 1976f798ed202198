import { z } from 'zod';
import { Id, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { BooleanFlag, nonEmptyPatch, PlainText, SearchText, SortParam } from './list.js';
import { LanguageTag, PhoneInput } from './schools.js';
import { StudentStatus } from './students.js';

const GuardianName = PlainText(1, 200);

/**
 * `POST /api/guardians`. The phone is stored as E.164 and is unique within a
 * school (409). `schoolId` only from a platform admin.
 */
export const CreateGuardianBody = z.strictObject({
  name: GuardianName,
  phone: PhoneInput,
  whatsappOptIn: z.boolean().default(false),
  preferredLanguage: LanguageTag.default('en'),
  schoolId: Id.optional(),
});
export type CreateGuardianBody = z.infer<typeof CreateGuardianBody>;

/** `PATCH /api/guardians/:id`. */
export const UpdateGuardianBody = nonEmptyPatch(
  z.strictObject({
    name: GuardianName.optional(),
    phone: PhoneInput.optional(),
    whatsappOptIn: z.boolean().optional(),
    preferredLanguage: LanguageTag.optional(),
  }),
);
export type UpdateGuardianBody = z.infer<typeof UpdateGuardianBody>;

/** A parent or guardian who receives invoices and reminders. `phone` is E.164. */
export const Guardian = z.object({
  id: Id,
  schoolId: Id,
  name: z.string(),
  phone: z.string(),
  whatsappOptIn: z.boolean(),
  preferredLanguage: z.string(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Guardian = z.infer<typeof Guardian>;

/** A student as seen from one of their guardians. */
export const GuardianStudent = z.object({
  id: Id,
  firstName: z.string(),
  lastName: z.string(),
  admissionNo: z.string(),
  classId: Id.nullable(),
  status: StudentStatus,
  relation: z.string(),
  isPrimaryPayer: z.boolean(),
});
export type GuardianStudent = z.infer<typeof GuardianStudent>;

/** `GET /api/guardians/:id`: the guardian and the students linked to them. */
export const GuardianDetail = Guardian.extend({ students: z.array(GuardianStudent) });
export type GuardianDetail = z.infer<typeof GuardianDetail>;

/** Fields `GET /api/guardians` sorts by. */
export const GuardianSort = SortParam(['name', 'createdAt']);
export type GuardianSort = z.infer<typeof GuardianSort>;

/** `GET /api/guardians` filters. `q` matches the name or the phone number. */
export const ListGuardiansQuery = PaginationQuery.extend({
  q: SearchText.optional(),
  whatsappOptIn: BooleanFlag.optional(),
  studentId: Id.optional(),
  schoolId: Id.optional(),
  sort: GuardianSort.default('name'),
}).strict();
export type ListGuardiansQuery = z.infer<typeof ListGuardiansQuery>;

/** Answer of `GET /api/guardians`. */
export const GuardianList = paginated(Guardian);
export type GuardianList = z.infer<typeof GuardianList>;

/** Path of a student–guardian link: `/api/students/:id/guardians/:guardianId`. */
export const StudentGuardianParams = z.strictObject({ id: Id, guardianId: Id });
export type StudentGuardianParams = z.infer<typeof StudentGuardianParams>;

/**
 * `PUT /api/students/:id/guardians/:guardianId`: links the guardian to the
 * student, or updates the link (idempotent). Making a guardian the primary
 * payer makes the student's other guardians not primary.
 */
export const LinkGuardianBody = z.strictObject({
  relation: PlainText(1, 40),
  isPrimaryPayer: z.boolean().default(false),
});
export type LinkGuardianBody = z.infer<typeof LinkGuardianBody>;

/** A student–guardian link as stored. */
export const StudentGuardianLink = z.object({
  studentId: Id,
  guardianId: Id,
  relation: z.string(),
  isPrimaryPayer: z.boolean(),
  createdAt: IsoDateTime,
});
export type StudentGuardianLink = z.infer<typeof StudentGuardianLink>;
