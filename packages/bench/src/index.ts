// aiotx-bench: the bench, its receiver (serve) and the report renderer, as commands of the `aiotx`
// command line. Everything it measures goes through aiotx's public API.
export { commands, UsageError, type Command } from './cli/commands.js';
