/** The roles of PRODUCT §3; a user may hold several. */
export const ROLES = ['operator', 'reviewer', 'approver', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];
