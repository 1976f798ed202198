import { z } from 'zod';
import { AmountMinor, Id, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { nonEmptyPatch, PlainText, SearchText, SortParam } from './list.js';

/** `active` while enrolled; `left` keeps the student (and their invoices) on record. */
export const StudentStatus = z.enum(['active', 'left']);
export type StudentStatus = z.infer<typeof StudentStatus>;

const PersonName = PlainText(1, 100);
/** The school's own admission number, unique within the school (409). */
const AdmissionNo = PlainText(1, 40);

/**
 * `POST /api/students`. `classId` must be a class of the same school (422).
 * `schoolId` only from a platform admin; credit is the ledger's, never sent.
 */
export const CreateStudentBody = z.strictObject({
  firstName: PersonName,
  lastName: PersonName,
  admissionNo: AdmissionNo,
  classId: Id.nullable().optional(),
  status: StudentStatus.default('active'),
  schoolId: Id.optional(),
});
export type CreateStudentBody = z.infer<typeof CreateStudentBody>;

/** `PATCH /api/students/:id`. `classId: null` takes the student out of any class. */
export const UpdateStudentBody = nonEmptyPatch(
  z.strictObject({
    firstName: PersonName.optional(),
    lastName: PersonName.optional(),
    admissionNo: AdmissionNo.optional(),
    classId: Id.nullable().optional(),
    status: StudentStatus.optional(),
  }),
);
export type UpdateStudentBody = z.infer<typeof UpdateStudentBody>;

/** A student. `creditMinor` is unapplied money (overpayments) in the school's currency. */
export const Student = z.object({
  id: Id,
  schoolId: Id,
  classId: Id.nullable(),
  firstName: z.string(),
  lastName: z.string(),
  admissionNo: z.string(),
  status: StudentStatus,
  creditMinor: AmountMinor,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Student = z.infer<typeof Student>;

/** A guardian as seen from one of their students. */
export const StudentGuardian = z.object({
  id: Id,
  name: z.string(),
  phone: z.string(),
  whatsappOptIn: z.boolean(),
  preferredLanguage: z.string(),
  relation: z.string(),
  isPrimaryPayer: z.boolean(),
});
export type StudentGuardian = z.infer<typeof StudentGuardian>;

/** `GET /api/students/:id`: the student and their guardians (the primary payer first). */
export const StudentDetail = Student.extend({ guardians: z.array(StudentGuardian) });
export type StudentDetail = z.infer<typeof StudentDetail>;

/** Fields `GET /api/students` sorts by. */
export const StudentSort = SortParam(['lastName', 'firstName', 'admissionNo', 'createdAt']);
export type StudentSort = z.infer<typeof StudentSort>;

/** `GET /api/students` filters. `q` matches first name, last name, full name or admission number. */
export const ListStudentsQuery = PaginationQuery.extend({
  classId: Id.optional(),
  status: StudentStatus.optional(),
  q: SearchText.optional(),
  schoolId: Id.optional(),
  sort: StudentSort.default('lastName'),
}).strict();
export type ListStudentsQuery = z.infer<typeof ListStudentsQuery>;

/** Answer of `GET /api/students`. */
export const StudentList = paginated(Student);
export type StudentList = z.infer<typeof StudentList>;
