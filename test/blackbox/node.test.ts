import { defineBlackboxSuite } from './suite.js';
import { startProcessTarget } from './process-target.js';
import { NODE_CLI } from './support.js';

defineBlackboxSuite('Node: node bin/barmanapi.js runserver', () => startProcessTarget('node', NODE_CLI), { serverProcess: true });
