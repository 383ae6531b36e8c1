export { createMemoryStorage, createMemoryTextFile } from './storage.js';
export { createFixedClock } from './clock.js';
export { createMemoryLogger } from './logger.js';
export { createScriptedHost, type ScriptedCommand } from './host.js';
export { createInProcessJobRunner } from './job-runner.js';
