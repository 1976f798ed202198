import { Router } from 'express';
import type { ApiContext } from '../context.js';

// Placeholder until the guardians routes land.
export function guardiansRoutes(_context: ApiContext): Router {
  return Router();
}
