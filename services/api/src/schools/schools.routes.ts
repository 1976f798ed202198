import { Router } from 'express';
import type { ApiContext } from '../context.js';

// Placeholder until the schools routes land.
export function schoolsRoutes(_context: ApiContext): Router {
  return Router();
}
