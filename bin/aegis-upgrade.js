#!/usr/bin/env node
// The operators' CLI, from its build: `npm run build` makes it (npm test and npm run demo do).
require('../dist/src/cli/main.js');
