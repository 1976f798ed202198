import type { MessageStatus } from './provider.js';

/**
 * How far a message has got, for ordering webhooks that arrive out of order
 * (providers do not promise order, and a retried webhook arrives late):
 * `queued < sent < failed < delivered < read`.
 *
 * `failed` outranks `queued` and `sent`, so a late `sent` never revives a
 * failed message: for the send pipeline it is terminal. It ranks below
 * `delivered` and `read` on purpose: Meta reports `failed` before delivery,
 * but with a recipient on several devices a `failed` can follow a `delivered`
 * (or the reverse), and a message that reached the guardian's phone must not
 * be sent again or reported as undelivered. So evidence of delivery wins,
 * whichever arrives first. `read` may come without `delivered` (the
 * `delivered` webhook lost or late); a late `delivered` never downgrades it.
 */
export function statusRank(status: MessageStatus): number {
  switch (status) {
    case 'queued':
      return 0;
    case 'sent':
      return 1;
    case 'failed':
      return 2;
    case 'delivered':
      return 3;
    case 'read':
      return 4;
  }
}

/** The status to keep when `incoming` is reported for a message now at `current` (see `statusRank`). */
export function furthestStatus(
  current: MessageStatus | null | undefined,
  incoming: MessageStatus,
): MessageStatus {
  if (!current) return incoming;
  return statusRank(incoming) > statusRank(current) ? incoming : current;
}
