/**
 * When a new bearer token expires (docs/security.md, "Secrets: tokens, keys, logs"): the policy's
 * `access.tokenLifetime` after it is issued, unless the issuer chose `expiresIn` or `expiresAt`,
 * never later than `access.maxTokenLifetime` after it is issued.
 */
import { parseDuration } from './duration';

export interface TokenLifetimePolicy {
  tokenLifetime: string;
  maxTokenLifetime: string;
}

export interface RequestedExpiry {
  /** A duration string (`30d`, `12h`). */
  expiresIn?: string;
  /** An ISO 8601 time. */
  expiresAt?: string;
}

export type ExpiryResult = { ok: true; expiresAt: Date } | { ok: false; message: string; latest: Date };

export function tokenExpiry(policy: TokenLifetimePolicy, requested: RequestedExpiry, now: Date): ExpiryResult {
  // the policy validates both (and tokenLifetime <= maxTokenLifetime)
  const max = parseDuration(policy.maxTokenLifetime)!;
  const latest = new Date(now.getTime() + max);
  const refuse = (message: string): ExpiryResult => ({ ok: false, message, latest });

  if (requested.expiresIn !== undefined && requested.expiresAt !== undefined) {
    return refuse('give expiresIn or expiresAt, not both');
  }
  let expiresAt: Date;
  if (requested.expiresAt !== undefined) {
    expiresAt = new Date(requested.expiresAt);
    if (Number.isNaN(expiresAt.getTime())) return refuse(`expiresAt ${requested.expiresAt} is not a time`);
  } else {
    const text = requested.expiresIn ?? policy.tokenLifetime;
    const lifetime = parseDuration(text);
    if (lifetime === undefined) return refuse(`expiresIn ${text} is not a duration (such as 30d or 12h)`);
    expiresAt = new Date(now.getTime() + lifetime);
  }
  if (expiresAt.getTime() <= now.getTime()) return refuse('a token must expire in the future');
  if (expiresAt.getTime() > latest.getTime()) {
    return refuse(`a token may live at most ${policy.maxTokenLifetime} (policy access.maxTokenLifetime): until ${latest.toISOString()}`);
  }
  return { ok: true, expiresAt };
}
