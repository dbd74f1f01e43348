#!/usr/bin/env node
// The installed `aiotx` command; the CLI itself is compiled TypeScript in dist/.
import '../dist/src/cli/main.js';
