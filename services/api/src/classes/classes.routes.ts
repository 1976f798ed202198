import { Router } from 'express';
import type { ApiContext } from '../context.js';

// Placeholder until the classes routes land.
export function classesRoutes(_context: ApiContext): Router {
  return Router();
}
