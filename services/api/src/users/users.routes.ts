import { Router } from 'express';
import type { ApiContext } from '../context.js';

// Placeholder until the users routes land.
export function usersRoutes(_context: ApiContext): Router {
  return Router();
}
