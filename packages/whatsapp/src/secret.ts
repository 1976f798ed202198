import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Two secrets compared in constant time whatever their lengths: both are
 * hashed first, so `timingSafeEqual` sees equal-length buffers and the time
 * taken says nothing about the length or the prefix that matched.
 */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
