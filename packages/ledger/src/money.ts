/**
 * Integer money arithmetic. Amounts are bigint minor units; nothing here
 * ever goes through a float.
 */

/** `amount × bps / 10000`, rounded half away from zero (the rounding a bursar does by hand). */
export function percentOf(amount: bigint, bps: number): bigint {
  const product = amount * BigInt(bps);
  const quotient = product / 10_000n;
  const remainder = product % 10_000n;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  if (twice >= 10_000n) return quotient + (product < 0n ? -1n : 1n);
  return quotient;
}

/**
 * Splits `amount` into parts proportional to `shares` (basis points summing to
 * 10000). Every part is rounded down and the last part takes the remainder, so
 * the parts always add up to exactly `amount`.
 */
export function splitByShares(amount: bigint, shares: number[]): bigint[] {
  const total = shares.reduce((sum, share) => sum + share, 0);
  if (total !== 10_000) throw new Error(`shares must sum to 10000 basis points, got ${total}`);
  const parts = shares.map((share) => (amount * BigInt(share)) / 10_000n);
  const allocated = parts.reduce((sum, part) => sum + part, 0n);
  parts[parts.length - 1] = parts[parts.length - 1]! + (amount - allocated);
  return parts;
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** bigint → JSON number at the edge; refuses values a JavaScript number cannot hold exactly. */
export function toNumber(amount: bigint): number {
  const value = Number(amount);
  if (!Number.isSafeInteger(value)) throw new RangeError(`amount ${amount} exceeds the safe integer range`);
  return value;
}
