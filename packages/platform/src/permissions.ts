import type { Role } from '@bursar/contracts';

/**
 * The permission matrix: the one place that says which role may do what, for
 * every service. README.md ("Roles and permissions") renders the same table,
 * and the role-matrix test holds the two to each other. Everything is also
 * scoped to the caller's school; only platform admins cross schools.
 */
export const PERMISSIONS = {
  'schools:create': ['platform_admin'],
  'schools:delete': ['platform_admin'],
  'schools:read': ['platform_admin', 'school_admin', 'accountant', 'teacher'],
  'schools:update': ['platform_admin', 'school_admin'],
  'users:read': ['platform_admin', 'school_admin'],
  'users:write': ['platform_admin', 'school_admin'],
  'classes:read': ['platform_admin', 'school_admin', 'accountant', 'teacher'],
  'classes:write': ['platform_admin', 'school_admin'],
  'students:read': ['platform_admin', 'school_admin', 'accountant', 'teacher'],
  'students:write': ['platform_admin', 'school_admin'],
  'guardians:read': ['platform_admin', 'school_admin', 'accountant', 'teacher'],
  'guardians:write': ['platform_admin', 'school_admin', 'accountant'],
  'fee_plans:read': ['platform_admin', 'school_admin', 'accountant'],
  'fee_plans:write': ['platform_admin', 'school_admin', 'accountant'],
  'invoices:read': ['platform_admin', 'school_admin', 'accountant'],
  'invoices:write': ['platform_admin', 'school_admin', 'accountant'],
  'payments:write': ['platform_admin', 'school_admin', 'accountant'],
  'refunds:write': ['platform_admin', 'school_admin', 'accountant'],
  'reconciliation:read': ['platform_admin', 'school_admin', 'accountant'],
  'reconciliation:write': ['platform_admin', 'school_admin', 'accountant'],
  'statements:read': ['platform_admin', 'school_admin', 'accountant'],
  'reports:read': ['platform_admin', 'school_admin', 'accountant'],
  'reports:write': ['platform_admin', 'school_admin', 'accountant'],
  'audit:read': ['platform_admin', 'school_admin', 'accountant'],
  'messages:read': ['platform_admin', 'school_admin', 'accountant'],
  'messages:write': ['platform_admin', 'school_admin', 'accountant'],
} as const satisfies Record<string, readonly Role[]>;

/** A permission a route can require (`route({ permission: 'payments:write', ... })`). */
export type Permission = keyof typeof PERMISSIONS;

/** Whether `role` holds `permission`. */
export function can(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}
