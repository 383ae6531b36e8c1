// The SSH host lives in ./ssh/ (one concern per file); this path stays for its importers.
export * from './ssh/index.js';
