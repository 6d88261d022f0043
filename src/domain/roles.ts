/** The roles of docs/http-api.md, "Authentication and roles"; a user may hold several. */
export const ROLES = ['operator', 'reviewer', 'approver', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];
