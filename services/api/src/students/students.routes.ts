import { Router } from 'express';
import type { ApiContext } from '../context.js';

// Placeholder until the students routes land.
export function studentsRoutes(_context: ApiContext): Router {
  return Router();
}
