import path from 'node:path';
import { projectRoot } from '../../src/devstack/paths.js';

export const repo = (...p: string[]) => path.join(projectRoot, ...p);
