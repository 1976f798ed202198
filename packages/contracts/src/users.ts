import { z } from 'zod';
import { StaffRole } from './auth.js';
import { Email, Id, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { nonEmptyPatch, PlainText, SearchText, SortParam } from './list.js';

/** Whether a user may log in; a disabled user's sessions are revoked. */
export const UserStatus = z.enum(['active', 'disabled']);
export type UserStatus = z.infer<typeof UserStatus>;

/** A new password: at least 10 characters (length beats composition rules). */
export const NewPassword = z.string().min(10, 'must be at least 10 characters').max(256);

/** Path of one staff user of a school: `/api/schools/:id/users/:userId`. */
export const SchoolUserParams = z.strictObject({ id: Id, userId: Id });
export type SchoolUserParams = z.infer<typeof SchoolUserParams>;

/**
 * `POST /api/schools/:id/users`. The role is a staff role: nobody creates a
 * platform admin through the API. Emails are unique across Bursar, case-insensitively (409).
 */
export const CreateUserBody = z.strictObject({
  email: Email.transform((email) => email.toLowerCase()),
  name: PlainText(1, 200),
  role: StaffRole,
  password: NewPassword,
});
export type CreateUserBody = z.infer<typeof CreateUserBody>;

/** `PATCH /api/schools/:id/users/:userId`. Changing the password or disabling signs the user out everywhere. */
export const UpdateUserBody = nonEmptyPatch(
  z.strictObject({
    name: PlainText(1, 200).optional(),
    role: StaffRole.optional(),
    status: UserStatus.optional(),
    password: NewPassword.optional(),
  }),
);
export type UpdateUserBody = z.infer<typeof UpdateUserBody>;

/** A staff user of a school. The password hash never leaves the server. */
export const StaffUser = z.object({
  id: Id,
  schoolId: Id,
  email: z.string(),
  name: z.string(),
  role: StaffRole,
  status: UserStatus,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type StaffUser = z.infer<typeof StaffUser>;

/** Fields `GET /api/schools/:id/users` sorts by. */
export const UserSort = SortParam(['name', 'email', 'createdAt']);
export type UserSort = z.infer<typeof UserSort>;

/** `GET /api/schools/:id/users` filters; `q` matches name or email. */
export const ListUsersQuery = PaginationQuery.extend({
  role: StaffRole.optional(),
  status: UserStatus.optional(),
  q: SearchText.optional(),
  sort: UserSort.default('name'),
}).strict();
export type ListUsersQuery = z.infer<typeof ListUsersQuery>;

/** Answer of `GET /api/schools/:id/users`. */
export const StaffUserList = paginated(StaffUser);
export type StaffUserList = z.infer<typeof StaffUserList>;
