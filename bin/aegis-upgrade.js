#!/usr/bin/env node
// The operators' CLI, from its build: `npm run build` makes it (npm test, npm run demo and npm pack do).
require('../dist/src/cli/main.js');
