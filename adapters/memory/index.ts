export { createMemoryStorage, createMemoryTextFile } from './storage.js';
export { createFixedClock, createMemoryLogger } from './misc.js';
export { createScriptedHost, type ScriptedCommand } from './host.js';
export { createInProcessJobRunner } from './job-runner.js';
